"""Resizing uint8 image batches with PIL, the same resampling the image-folder loader uses."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from vaelab.data.errors import DataError


def check_image_size(image_size: int | None) -> None:
    """Raise DataError unless `image_size` is None or a positive int."""
    if image_size is None:
        return
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be a positive integer or None, got {image_size!r}")


def resize_images(images: torch.Tensor, size: int, binary: bool) -> torch.Tensor:
    """uint8 [N, C, H, W] -> uint8 [N, C, size, size].

    8-bit images use PIL bilinear resampling; binary (0/1) images use nearest-neighbour so they
    stay binary. Non-square images are stretched. A batch already at `size` is returned as is.
    """
    check_image_size(size)
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    resample = Image.Resampling.NEAREST if binary else Image.Resampling.BILINEAR
    source = images.permute(0, 2, 3, 1).numpy()
    out = np.empty((n, size, size, c), dtype=np.uint8)
    for i in range(n):
        pixels = source[i] if c == 3 else source[i, :, :, 0]
        resized = Image.fromarray(np.ascontiguousarray(pixels)).resize((size, size), resample)
        out[i] = np.asarray(resized).reshape(size, size, c)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
