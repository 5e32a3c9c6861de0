"""Loading a folder of PNG/JPEG images, with class labels from immediate subfolder names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.streamed import FolderImages, StreamedImages

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


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) of an image file, from its header alone."""
    try:
        with Image.open(path) as image:
            return image.mode, image.size
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err


#: images decoded to tell whether a streamed folder holds 0/1 pixels
BINARY_PROBE = 64


def open_image_folder(folder: Path, image_size: int | None, stream: bool = False) -> StreamedImages:
    """The images under `folder` as one split named after the folder, left on disk: files
    listed, modes and sizes read from their headers, pixels decoded only when read.

    Greyscale images stay 1 channel unless any image is colour (RGB/RGBA/palette), which makes
    the whole set RGB. With `image_size` every image is resized (PIL bilinear) to a square;
    without it all images must share one size. Alpha is dropped. Whether the set is binary (every
    pixel 0 or 1) is decided when it is loaded; a streamed folder must hold 8-bit images, which
    the first BINARY_PROBE images confirm.
    """
    files = image_files(folder)
    if not files:
        raise DataError(
            f"{folder}: no images found (looked recursively for {', '.join(IMAGE_SUFFIXES)})"
        )
    labels = _labels(folder, files)
    headers = [_header(path) for path in files]
    for path, (mode, _) in zip(files, headers, strict=True):
        if mode not in GREY_MODES + COLOUR_MODES:
            raise DataError(
                f"{path}: image mode {mode!r} is not supported (16-bit or float images); "
                "save it as 8-bit greyscale or RGB"
            )
    colour = any(mode in COLOUR_MODES for mode, _ in headers)
    mode = "RGB" if colour else "L"
    if image_size is None:
        first = headers[0][1]
        for path, (_, size) in zip(files, headers, strict=True):
            if size != first:
                raise DataError(
                    f"{folder}: images differ in size: {files[0].name} is {first[0]}x{first[1]} "
                    f"but {path.relative_to(folder)} is {size[0]}x{size[1]}; pass "
                    "image_size (--image-size) to resize them all to one square size"
                )
        width, height = first
    else:
        width = height = image_size
    source = FolderImages(files, mode, (3 if colour else 1, height, width), image_size)
    if stream:
        probe = source.read(np.arange(min(len(files), BINARY_PROBE)))
        if int(probe.max()) <= 1:
            raise DataError(f"{folder}: the images hold only 0/1 pixel values; a streamed folder must "
                            "hold 8-bit images (0..255): load it in memory (drop --stream)")
        source.binary = False
    return StreamedImages(source, np.arange(len(files)), labels, folder.name)


def load_image_folder(folder: Path, image_size: int | None) -> ImageSet:
    """All images under `folder` as one ImageSet, named after the folder (see
    `open_image_folder`), decoded straight into one uint8 tensor."""
    return open_image_folder(folder, image_size).load()
