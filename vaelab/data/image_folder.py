"""Loading a folder of PNG/JPEG images, with class labels from immediate subfolder names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L", "LA")
COLOUR_MODES = ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa")


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder` (recursive, case-insensitive suffix, hidden paths skipped)."""
    files = [
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(files, key=lambda path: path.relative_to(folder).as_posix())


def _labels(folder: Path, files: list[Path]) -> torch.Tensor | None:
    relative = [path.relative_to(folder) for path in files]
    nested = [len(rel.parts) > 1 for rel in relative]
    if not any(nested):
        return None
    if not all(nested):
        top = relative[nested.index(False)]
        sub = relative[nested.index(True)]
        raise DataError(
            f"{folder}: images sit both directly in the folder ({top}) and in class subfolders "
            f"({sub}); put every image in a class subfolder, or none of them"
        )
    classes = sorted({rel.parts[0] for rel in relative})
    index = {name: i for i, name in enumerate(classes)}
    return torch.tensor([index[rel.parts[0]] for rel in relative], dtype=torch.int64)


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err


def load_image_folder(folder: Path, image_size: int | None) -> ImageSet:
    """All images under `folder` as one ImageSet, named after the folder.

    Greyscale images stay 1 channel unless any image is colour (RGB/RGBA/palette), which makes
    the whole set RGB. With `image_size` every image is resized (PIL bilinear) to a square;
    without it all images must share one size. Alpha is dropped.
    """
    files = image_files(folder)
    if not files:
        raise DataError(
            f"{folder}: no images found (looked recursively for {', '.join(IMAGE_SUFFIXES)})"
        )
    labels = _labels(folder, files)
    images = [_open(path) for path in files]
    for path, image in zip(files, images, strict=True):
        if image.mode not in GREY_MODES + COLOUR_MODES:
            raise DataError(
                f"{path}: image mode {image.mode!r} is not supported (16-bit or float images); "
                "save it as 8-bit greyscale or RGB"
            )
    colour = any(image.mode in COLOUR_MODES for image in images)
    mode = "RGB" if colour else "L"
    converted = [image.convert(mode) for image in images]
    if image_size is not None:
        size = (image_size, image_size)
        converted = [
            image.resize(size, Image.Resampling.BILINEAR) if image.size != size else image
            for image in converted
        ]
    else:
        first = converted[0].size
        for path, image in zip(files, converted, strict=True):
            if image.size != first:
                raise DataError(
                    f"{folder}: images differ in size: {files[0].name} is {first[0]}x{first[1]} "
                    f"but {path.relative_to(folder)} is {image.size[0]}x{image.size[1]}; pass "
                    "image_size (--image-size) to resize them all to one square size"
                )
    stacked = np.stack([np.asarray(image, dtype=np.uint8) for image in converted])
    if stacked.ndim == 3:
        stacked = stacked[:, :, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(stacked.transpose(0, 3, 1, 2)))
    binary = int(tensor.max()) <= 1
    return ImageSet(tensor, labels, binary, folder.name)
