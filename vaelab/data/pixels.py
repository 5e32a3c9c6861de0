"""Turning user arrays of any sensible dtype and layout into uint8 [N, C, H, W] images."""

from __future__ import annotations

import math

import numpy as np
import torch

from vaelab.data.errors import DataError

CHANNELS = (1, 3)


def image_layout(shape: tuple[int, ...], where: str) -> str:
    """How an array of `shape` holds images: "flat" [N, H*W] (square greyscale), "hw" [N, H, W],
    "hwc" [N, H, W, C] or "chw" [N, C, H, W] (C in 1, 3); a DataError names anything else."""
    if len(shape) == 2:
        side = math.isqrt(shape[1])
        if side * side != shape[1]:
            raise DataError(
                f"{where}: flat images of {shape[1]} values are not square; reshape the array "
                "to [N, H, W], [N, H, W, C] or [N, C, H, W] first"
            )
        return "flat"
    if len(shape) == 3:
        return "hw"
    if len(shape) == 4:
        channels_last = shape[3] in CHANNELS
        channels_first = shape[1] in CHANNELS
        if channels_last and channels_first:
            raise DataError(
                f"{where}: shape {shape} is ambiguous: both [N, H, W, C] and [N, C, H, W] fit"
            )
        if channels_last:
            return "hwc"
        if channels_first:
            return "chw"
    raise DataError(
        f"{where}: images must have shape [N, H, W], [N, H, W, C] or [N, C, H, W] with C in "
        f"(1, 3), got {shape}"
    )


def image_shape_of(shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
    """(C, H, W) of one image of an array of `shape` held in `layout`."""
    if layout == "flat":
        side = math.isqrt(shape[1])
        return 1, side, side
    if layout == "hw":
        return 1, int(shape[1]), int(shape[2])
    if layout == "hwc":
        return int(shape[3]), int(shape[1]), int(shape[2])
    return int(shape[1]), int(shape[2]), int(shape[3])


def as_nchw(array: np.ndarray, layout: str) -> np.ndarray:
    """A view of `array` (held in `layout`, see `image_layout`) as [N, C, H, W]."""
    if layout == "flat":
        side = math.isqrt(array.shape[1])
        return array.reshape(array.shape[0], 1, side, side)
    if layout == "hw":
        return array[:, None]
    if layout == "hwc":
        return array.transpose(0, 3, 1, 2)
    return array


def to_nchw(array: np.ndarray, where: str) -> np.ndarray:
    """View `array` as [N, C, H, W]; accepts [N, H, W], [N, H, W, C], [N, C, H, W] (C in 1, 3)
    and flat square greyscale [N, H*W]."""
    return as_nchw(array, image_layout(array.shape, where))


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
        layout = image_layout(array.shape, f"{where} [{split}]")
        out[split] = torch.from_numpy(np.ascontiguousarray(block_pixels(array, layout, binary)))
    return out, binary


def block_pixels(block: np.ndarray, layout: str, binary: bool) -> np.ndarray:
    """uint8 [k, C, H, W] pixels of a block of rows of a user array (see `to_pixels`); a view of
    the block itself when it already is uint8 [k, C, H, W]."""
    nchw = as_nchw(block, layout)
    if nchw.dtype == np.uint8:
        return nchw
    if binary or block.dtype.kind in "iu":
        return nchw.astype(np.uint8)
    return np.rint(nchw.astype(np.float64) * 255.0).astype(np.uint8)


class PixelStats:
    """Range, finiteness and 0/1-ness of an image array, gathered a block of rows at a time, so
    a file larger than memory is checked as `to_pixels` checks a whole array."""

    def __init__(self, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        self.dtype, self.shape = np.dtype(dtype), shape
        self.low: float | None = None
        self.high: float | None = None
        self.finite = True
        self.zero_one = True

    def add(self, block: np.ndarray) -> None:
        if block.size == 0:
            return
        kind = self.dtype.kind
        if kind == "f" and not np.isfinite(block).all():
            self.finite = False
            return
        if kind not in "iuf":
            return
        low, high = block.min(), block.max()
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)
        if kind == "f" and self.zero_one:
            self.zero_one = bool(((block == 0) | (block == 1)).all())

    def check(self, where: str) -> None:
        """Raise the DataError `to_pixels` would raise for the whole array."""
        if math.prod(self.shape) == 0:
            raise DataError(f"{where}: the image array is empty (shape {self.shape})")
        kind = self.dtype.kind
        if kind == "b":
            return
        if kind in "iu":
            low, high = int(self.low), int(self.high)  # type: ignore[arg-type]
            if low < 0 or high > 255:
                raise DataError(f"{where}: integer pixel values must lie in 0..255, found {low}..{high}")
            return
        if kind == "f":
            if not self.finite:
                raise DataError(f"{where}: float pixel values contain NaN or infinity")
            low_f, high_f = float(self.low), float(self.high)  # type: ignore[arg-type]
            if low_f < 0.0 or high_f > 1.0:
                raise DataError(
                    f"{where}: float pixel values must lie in [0, 1], found {low_f:g}..{high_f:g}; "
                    "divide 0..255 data by 255 or store it as uint8"
                )
            return
        raise DataError(
            f"{where}: unsupported dtype {self.dtype}; use uint8 (0..255), float (0..1) or "
            "bool / integer 0/1"
        )

    @property
    def binary(self) -> bool:
        """Every value is 0 or 1 (valid once `check` has passed)."""
        if self.dtype.kind == "b":
            return True
        if self.dtype.kind in "iu":
            return int(self.high) <= 1  # type: ignore[arg-type]
        return self.zero_one


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
