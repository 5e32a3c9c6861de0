"""Loading user `.npy` / `.npz` image arrays, with splits when the `.npz` defines them.

Arrays are read a block of rows at a time (vaelab.data.npy_file): values are checked and the
set's 0/1-ness decided in one pass, and the images are then either read into one uint8 tensor
per split (`load_array_file`) or left on disk and read per batch (`open_array_file(stream=True)`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.npy_file import ArrayFile, load_member, npz_keys
from vaelab.data.pixels import PixelStats, image_layout, to_labels
from vaelab.data.streamed import ArrayImages, StreamedImages, materialize

ALL = "all"
SPLITS = ("train", "valid", "test")
IMAGE_KEYS = ("images", "x")
LABEL_KEYS = ("labels", "y")


def _npz_keys(path: Path, keys: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """{split: image array name} and {split: label array name} of an `.npz` file."""
    if "x_train" in keys:
        images = {split: f"x_{split}" for split in SPLITS if f"x_{split}" in keys}
        labels = {split: f"y_{split}" for split in images if f"y_{split}" in keys}
        return images, labels
    image_key = next((key for key in IMAGE_KEYS if key in keys), None)
    if image_key is None:
        raise DataError(
            f"{path}: no image array found; keys are {sorted(keys)}, expected 'images' (or "
            "'x') with optional 'labels' (or 'y'), or 'x_train'/'x_test' with optional "
            "'y_train'/'y_test'"
        )
    label_key = next((key for key in LABEL_KEYS if key in keys), None)
    return {ALL: image_key}, ({} if label_key is None else {ALL: label_key})


def open_array_file(path: Path, image_size: int | None, stream: bool = False) -> dict[str, StreamedImages]:
    """The splits of a `.npy` or `.npz` file, left on disk: {"all": ...}, or one per split it
    defines (see `load_array_file`). With `stream`, the file must be a C-ordered `.npy` (read
    one batch of rows at a time); a DataError says so otherwise."""
    is_npy = path.suffix.lower() == ".npy"
    if is_npy:
        files, label_keys = {ALL: ArrayFile.open(path)}, {}
    else:
        if stream:
            raise DataError(f"{path}: streaming reads .npy files and image folders, not .npz archives; "
                            "np.save each array (x_train, x_test, ...) to its own .npy file, or drop "
                            "stream (--stream) to load it in memory")
        image_keys, label_keys = _npz_keys(path, npz_keys(path))
        files = {split: ArrayFile.open(path, key) for split, key in image_keys.items()}
    stats: dict[str, PixelStats] = {}
    for split, file in files.items():
        where = f"{path} [{split}]"
        if stream and file.fortran_order:
            raise DataError(f"{where}: a Fortran-ordered array cannot be streamed a row at a time; "
                            "save it with np.save(path, np.ascontiguousarray(images))")
        stats[split] = PixelStats(file.dtype, file.shape)
        for _, block in file.blocks():
            stats[split].add(block)
        stats[split].check(where)
    binary = all(s.binary for s in stats.values())
    out: dict[str, StreamedImages] = {}
    for split, file in files.items():
        layout = image_layout(file.shape, f"{path} [{split}]")
        labels = None
        if split in label_keys:
            labels = to_labels(load_member(path, label_keys[split]), len(file),
                               f"{path} [{split} labels]")
        name = path.stem if split == ALL else f"{path.stem}/{split}"
        source = ArrayImages(file, layout, binary, image_size)
        out[split] = StreamedImages(source, np.arange(len(file)), labels, name)
    return out


def load_array_file(path: Path, image_size: int | None) -> dict[str, ImageSet]:
    """ImageSets from a `.npy` or `.npz` file: {"all": ...}, or one per split it defines.

    `.npz` keys: `images`/`x` with optional `labels`/`y`; or `x_train` plus optional `x_valid`,
    `x_test` with matching `y_*`. Pixel dtypes and layouts are as in `to_pixels`.
    """
    return materialize(open_array_file(path, image_size))
