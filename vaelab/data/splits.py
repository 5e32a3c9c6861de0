"""Seeded hold-out splits, so a validation or test set is the same on every run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.streamed import StreamedImages

Images = TypeVar("Images", ImageSet, StreamedImages)


#: seed offset for the validation split, so it does not move when the training seed changes
SPLIT_SEED = 1234


@dataclass(frozen=True)
class Splits:
    """Train, validation (possibly empty) and test sets, fitted to the likelihood: in memory
    (`ImageSet`), or left on disk and read a batch at a time (`StreamedImages`, data.stream)."""

    train: ImageSet | StreamedImages
    valid: ImageSet | StreamedImages | None
    test: ImageSet | StreamedImages


def split_off(data: Images, size: int, seed: int) -> tuple[Images, Images]:
    """(rest, held_out) with `size` examples held out, chosen by a seeded permutation.

    The permutation comes from `torch.Generator().manual_seed(seed)`, so the split depends only
    on `len(data)`, `size` and `seed`. Both parts keep the permuted order. Splitting an
    `ImageSet` copies its images; splitting `StreamedImages` only divides their row numbers.
    """
    n = len(data)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size < n:
        raise DataError(
            f"split_off({data.name!r}): size must be an integer with 0 < size < {n} "
            f"(the number of examples), got {size!r}"
        )
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    rest = data.subset(order[size:])
    held_out = data.subset(order[:size])
    return rest, held_out
