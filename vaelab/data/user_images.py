"""Images a user hands to a trained model (e.g. `vaelab classify RUN a.png b.npy folder/`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vaelab.data.array_files import load_array_file
from vaelab.data.errors import DataError
from vaelab.data.image_folder import IMAGE_SUFFIXES, image_files, load_image_folder
from vaelab.data.resize import resize_images


def _image_file(path: Path, image_size: int | None) -> torch.Tensor:
    try:
        with Image.open(path) as image:
            image.load()
            colour = image.mode in ("RGB", "RGBA", "P", "CMYK")
            array = np.array(image.convert("RGB" if colour else "L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"cannot read image {path}: {error}") from error
    array = array[None, None] if array.ndim == 2 else array.transpose(2, 0, 1)[None]
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return resize_images(tensor, image_size, False) if image_size is not None else tensor


def read_images(paths: Sequence[Path], image_size: int | None = None
                ) -> tuple[torch.Tensor, list[str], bool]:
    """uint8 images [N, C, H, W] from image files, folders of images and .npy/.npz arrays, with
    one name per image ("file.png", "arr.npy[3]") and whether every value is 0/1."""
    images: list[torch.Tensor] = []
    names: list[str] = []
    binary = True
    for path in map(Path, paths):
        if path.is_dir():
            data = load_image_folder(path, image_size)
            tensors = [data.images]
            names += [str(file.relative_to(path.parent)) for file in image_files(path)]  # its order
            binary = binary and data.binary
        elif path.suffix.lower() in (".npy", ".npz"):
            if not path.is_file():
                raise DataError(f"no such file: {path}")
            sets = load_array_file(path, image_size)
            tensors = [s.images for s in sets.values()]
            binary = binary and all(s.binary for s in sets.values())
            names += [f"{path.name}[{i}]" for i in range(sum(len(s) for s in sets.values()))]
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            if not path.is_file():
                raise DataError(f"no such file: {path}")
            tensors = [_image_file(path, image_size)]
            binary = binary and int(tensors[0].max()) <= 1
            names.append(path.name)
        else:
            raise DataError(f"{path}: expected an image file ({', '.join(IMAGE_SUFFIXES)}), a "
                            "folder of images, or an .npy/.npz array")
        images += tensors
    if not images:
        raise DataError("no images given")
    shapes = {tuple(t.shape[1:]) for t in images}
    if len(shapes) > 1:
        raise DataError(f"the images differ in shape: {sorted(shapes)}; pass --image-size")
    return torch.cat(images), names, binary
