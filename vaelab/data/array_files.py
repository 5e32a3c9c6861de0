"""Loading user `.npy` / `.npz` image arrays, with splits when the `.npz` defines them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.pixels import to_labels, to_pixels
from vaelab.data.resize import resize_images

ALL = "all"
SPLITS = ("train", "valid", "test")
IMAGE_KEYS = ("images", "x")
LABEL_KEYS = ("labels", "y")


def _load(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"cannot read {path} as a numpy array file: {err}") from err


def _npz_arrays(
    path: Path, arrays: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    if "x_train" in arrays:
        images = {split: arrays[f"x_{split}"] for split in SPLITS if f"x_{split}" in arrays}
        labels = {split: arrays[f"y_{split}"] for split in images if f"y_{split}" in arrays}
        return images, labels
    image_key = next((key for key in IMAGE_KEYS if key in arrays), None)
    if image_key is None:
        raise DataError(
            f"{path}: no image array found; keys are {sorted(arrays)}, expected 'images' (or "
            "'x') with optional 'labels' (or 'y'), or 'x_train'/'x_test' with optional "
            "'y_train'/'y_test'"
        )
    label_key = next((key for key in LABEL_KEYS if key in arrays), None)
    labels = {} if label_key is None else {ALL: arrays[label_key]}
    return {ALL: arrays[image_key]}, labels


def load_array_file(path: Path, image_size: int | None) -> dict[str, ImageSet]:
    """ImageSets from a `.npy` or `.npz` file: {"all": ...}, or one per split it defines.

    `.npz` keys: `images`/`x` with optional `labels`/`y`; or `x_train` plus optional `x_valid`,
    `x_test` with matching `y_*`. Pixel dtypes and layouts are as in `to_pixels`.
    """
    loaded = _load(path)
    if isinstance(loaded, dict):
        images, labels = _npz_arrays(path, loaded)
    else:
        images, labels = {ALL: loaded}, {}
    pixels, binary = to_pixels(images, str(path))
    out: dict[str, ImageSet] = {}
    for split, tensor in pixels.items():
        label_tensor: torch.Tensor | None = None
        if split in labels:
            label_tensor = to_labels(labels[split], len(tensor), f"{path} [{split} labels]")
        if image_size is not None:
            tensor = resize_images(tensor, image_size, binary)
        name = path.stem if split == ALL else f"{path.stem}/{split}"
        out[split] = ImageSet(tensor, label_tensor, binary, name)
    return out
