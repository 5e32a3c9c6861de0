"""Seeded hold-out splits, so a validation or test set is the same on every run."""

from __future__ import annotations

from typing import TypeVar

import torch

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.streamed import StreamedImages

Images = TypeVar("Images", ImageSet, StreamedImages)


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
