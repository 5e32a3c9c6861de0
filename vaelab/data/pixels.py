"""Turning user arrays of any sensible dtype and layout into uint8 [N, C, H, W] images."""

from __future__ import annotations

import math

import numpy as np
import torch

from vaelab.data.errors import DataError

CHANNELS = (1, 3)


def to_nchw(array: np.ndarray, where: str) -> np.ndarray:
    """View `array` as [N, C, H, W]; accepts [N, H, W], [N, H, W, C], [N, C, H, W] (C in 1, 3)
    and flat square greyscale [N, H*W]."""
    shape = array.shape
    if array.ndim == 2:
        side = math.isqrt(shape[1])
        if side * side != shape[1]:
            raise DataError(
                f"{where}: flat images of {shape[1]} values are not square; reshape the array "
                "to [N, H, W], [N, H, W, C] or [N, C, H, W] first"
            )
        return array.reshape(shape[0], 1, side, side)
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4:
        channels_last = shape[3] in CHANNELS
        channels_first = shape[1] in CHANNELS
        if channels_last and channels_first:
            raise DataError(
                f"{where}: shape {shape} is ambiguous: both [N, H, W, C] and [N, C, H, W] fit"
            )
        if channels_last:
            return array.transpose(0, 3, 1, 2)
        if channels_first:
            return array
    raise DataError(
        f"{where}: images must have shape [N, H, W], [N, H, W, C] or [N, C, H, W] with C in "
        f"(1, 3), got {shape}"
    )


def _check_values(array: np.ndarray, where: str) -> None:
    if array.size == 0:
        raise DataError(f"{where}: the image array is empty (shape {array.shape})")
    kind = array.dtype.kind
    if kind == "b":
        return
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise DataError(
                f"{where}: integer pixel values must lie in 0..255, found {low}..{high}"
            )
        return
    if kind == "f":
        if not np.isfinite(array).all():
            raise DataError(f"{where}: float pixel values contain NaN or infinity")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise DataError(
                f"{where}: float pixel values must lie in [0, 1], found {low:g}..{high:g}; "
                "divide 0..255 data by 255 or store it as uint8"
            )
        return
    raise DataError(
        f"{where}: unsupported dtype {array.dtype}; use uint8 (0..255), float (0..1) or "
        "bool / integer 0/1"
    )


def _zero_one(array: np.ndarray) -> bool:
    return array.dtype.kind == "b" or bool(((array == 0) | (array == 1)).all())


def to_pixels(arrays: dict[str, np.ndarray], where: str) -> tuple[dict[str, torch.Tensor], bool]:
    """uint8 [N, C, H, W] tensors for each split of a user array, and whether data is binary.

    The set is binary when every value of every split is literally 0 or 1 (uint8, ints, bool or
    float); its images then hold 0/1. Otherwise float and bool values in [0, 1] are scaled to
    0..255 (rounded) and integer values are taken as 0..255 intensities.
    """
    for split, array in arrays.items():
        _check_values(array, f"{where} [{split}]")
    binary = all(_zero_one(array) for array in arrays.values())
    out: dict[str, torch.Tensor] = {}
    for split, array in arrays.items():
        layout = to_nchw(array, f"{where} [{split}]")
        if binary or array.dtype.kind in "iu":
            pixels = layout.astype(np.uint8)
        else:
            pixels = np.rint(layout.astype(np.float64) * 255.0).astype(np.uint8)
        out[split] = torch.from_numpy(np.ascontiguousarray(pixels))
    return out, binary


def to_labels(array: np.ndarray, count: int, where: str) -> torch.Tensor:
    """int64 [count] labels from a 1-D array of non-negative integers."""
    if array.dtype.kind not in "iu" or array.shape != (count,):
        raise DataError(
            f"{where}: labels must be a 1-D integer array of length {count} (one per image), "
            f"got dtype {array.dtype} and shape {array.shape}"
        )
    if count and int(array.min()) < 0:
        raise DataError(f"{where}: labels must be non-negative, found {int(array.min())}")
    return torch.from_numpy(array.astype(np.int64))
