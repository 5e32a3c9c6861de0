"""Loading the downloadable benchmark datasets: MNIST, Fashion-MNIST and binarized MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaelab.data.amat import parse_amat
from vaelab.data.catalog import FILE_GROUPS, SPLIT_SIZES, FileGroup
from vaelab.data.checksums import read_verified
from vaelab.data.errors import DataError
from vaelab.data.fetch import resolve_files
from vaelab.data.idx import parse_idx
from vaelab.data.imageset import ImageSet

NUM_CLASSES = 10


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def _idx_split(
    group: FileGroup, paths: dict[str, Path], split: str, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    image_key, label_key = f"{split}_images", f"{split}_labels"
    image_path, label_path = paths[image_key], paths[label_key]
    raw_images = read_verified(image_path, group.files[image_key])
    images = parse_idx(raw_images, str(image_path), ndim=3, count=count)
    raw_labels = read_verified(label_path, group.files[label_key])
    labels = parse_idx(raw_labels, str(label_path), ndim=1, count=count)
    if labels.max() >= NUM_CLASSES:
        raise DataError(f"{label_path}: labels must lie in 0..{NUM_CLASSES - 1}")
    return _tensor(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _amat_split(
    group: FileGroup, paths: dict[str, Path], split: str, count: int
) -> tuple[torch.Tensor, None]:
    path = paths[split]
    pixels = parse_amat(read_verified(path, group.files[split]), str(path), count=count)
    return _tensor(pixels).unsqueeze(1), None


def load_benchmark(dataset: str, data_dir: str | None, download: bool) -> dict[str, ImageSet]:
    """Verified splits of a downloadable dataset, fetching missing files when `download`.

    MNIST and Fashion-MNIST give train (60000) and test (10000) with int64 labels; binarized
    MNIST gives train (50000), valid (10000) and test (10000), binary and unlabelled.
    """
    group = FILE_GROUPS[dataset]
    paths = resolve_files(group, data_dir, download)
    binary = dataset == "binarized-mnist"
    read_split = _amat_split if binary else _idx_split
    out: dict[str, ImageSet] = {}
    for split, count in SPLIT_SIZES[dataset].items():
        images, labels = read_split(group, paths, split, count)
        out[split] = ImageSet(images, labels, binary, f"{dataset}/{split}")
    return out
