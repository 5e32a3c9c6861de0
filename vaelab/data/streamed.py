"""Image sets read from their files on demand: the lazy side of user data.

A `StreamedImages` is a source of images (rows of a `.npy` file, the files of an image folder,
or a tensor already in memory) and the rows of it that one split holds. Splitting and subsetting
only move row numbers, so a dataset is never copied to be split. Such a set is used in two ways:

* `materialize` reads every split of a source in one front-to-back pass into one preallocated
  uint8 tensor per split: the in-memory path, whose peak is the dataset's uint8 bytes plus a
  block of a few megabytes;
* the set itself is a `torch.utils.data.Dataset` of uint8 [C, H, W] images (`__getitems__`
  reads a whole batch at once): the streaming path, whose memory stays flat as the data grow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.npy_file import BLOCK_BYTES, ArrayFile
from vaelab.data.pixels import block_pixels, image_shape_of
from vaelab.data.resize import resize_images


class ImageSource(Protocol):
    """Images read on demand. `binary` is None until a pass over every image has decided it."""

    binary: bool | None

    def __len__(self) -> int: ...

    @property
    def image_shape(self) -> tuple[int, int, int]: ...

    def read(self, rows: np.ndarray) -> torch.Tensor:
        """uint8 [k, C, H, W] images at `rows`, in that order."""

    def blocks(self) -> Iterator[tuple[int, torch.Tensor]]:
        """(first row, uint8 [k, C, H, W] images) for consecutive blocks of all rows."""


class TensorImages:
    """Images already in memory (a uint8 [N, C, H, W] tensor)."""

    def __init__(self, images: torch.Tensor, binary: bool) -> None:
        self.images, self.binary = images, binary

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.images.shape
        return int(c), int(h), int(w)

    def read(self, rows: np.ndarray) -> torch.Tensor:
        return self.images[torch.from_numpy(np.asarray(rows, dtype=np.int64))]

    def blocks(self) -> Iterator[tuple[int, torch.Tensor]]:
        yield 0, self.images


class ArrayImages:
    """The images of an array file, converted a block (or a batch) at a time: layout to
    [N, C, H, W], dtype to uint8 (`vaelab.data.pixels.block_pixels`), size to `image_size`.
    `binary` is decided for the whole file (every split of an `.npz`) before any is read."""

    def __init__(self, file: ArrayFile, layout: str, binary: bool, image_size: int | None) -> None:
        self.file, self.layout, self.binary, self.image_size = file, layout, binary, image_size
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.file)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = image_shape_of(self.file.shape, self.layout)
        return (c, h, w) if self.image_size is None else (c, self.image_size, self.image_size)

    def _pixels(self, block: np.ndarray) -> torch.Tensor:
        binary = bool(self.binary)
        images = torch.from_numpy(np.ascontiguousarray(block_pixels(block, self.layout, binary)))
        return images if self.image_size is None else resize_images(images, self.image_size, binary)

    def read(self, rows: np.ndarray) -> torch.Tensor:
        if not self.file.seekable:
            raise DataError(f"{self.file.where}: rows can be read one by one only from a C-ordered "
                            ".npy file; load the data in memory, or np.save the array to a .npy file")
        if self._fd is None or self._pid != os.getpid():  # each DataLoader worker opens its own
            self._fd, self._pid = os.open(self.file.path, os.O_RDONLY), os.getpid()
        return self._pixels(self.file.rows(np.asarray(rows, dtype=np.int64), self._fd))

    def blocks(self) -> Iterator[tuple[int, torch.Tensor]]:
        for start, block in self.file.blocks():
            yield start, self._pixels(block)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            os.close(self._fd)


def decode_image(path: Path, mode: str, image_size: int | None) -> np.ndarray:
    """uint8 [C, H, W] pixels of an image file in PIL `mode` ("L" or "RGB"), resized (bilinear)
    to `image_size` when given."""
    try:
        with Image.open(path) as image:
            image.load()
            converted = image.convert(mode)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err
    if image_size is not None and converted.size != (image_size, image_size):
        converted = converted.resize((image_size, image_size), Image.Resampling.BILINEAR)
    pixels = np.array(converted, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


class FolderImages:
    """The image files of a folder, decoded when read (by DataLoader workers when streaming)."""

    #: images decoded per block by `blocks`
    BLOCK = 256

    def __init__(self, files: Sequence[Path], mode: str, image_shape: tuple[int, int, int],
                 image_size: int | None, binary: bool | None = None) -> None:
        self.files, self.mode, self.shape = list(files), mode, image_shape
        self.image_size, self.binary = image_size, binary

    def __len__(self) -> int:
        return len(self.files)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.shape

    def read(self, rows: np.ndarray) -> torch.Tensor:
        out = torch.empty((len(rows), *self.shape), dtype=torch.uint8)
        for i, row in enumerate(np.asarray(rows).tolist()):
            pixels = decode_image(self.files[row], self.mode, self.image_size)
            if pixels.shape != self.shape:
                raise DataError(f"{self.files[row]}: image of shape {pixels.shape}, the others are "
                                f"{self.shape}; pass image_size (--image-size) to resize them all")
            out[i] = torch.from_numpy(pixels)
        if self.binary and out.numel() and int(out.max()) > 1:
            raise DataError(f"images read as 0/1 data hold larger values ({self.files[0].parent})")
        return out

    def blocks(self) -> Iterator[tuple[int, torch.Tensor]]:
        for start in range(0, len(self), self.BLOCK):
            yield start, self.read(np.arange(start, min(start + self.BLOCK, len(self))))


@dataclass(frozen=True, eq=False)
class StreamedImages(Dataset):
    """One split of images read from `source` on demand: its rows `rows` (int64 [N]) of the
    source, with int64 [N] `labels` or None. Items are uint8 [C, H, W] tensors.

    `subset` and `split_off` give other row lists of the same source, never copies; `load()`
    reads the split into an `ImageSet` (see also `materialize`)."""

    source: ImageSource
    rows: np.ndarray
    labels: torch.Tensor | None
    name: str

    @staticmethod
    def of(data: ImageSet) -> StreamedImages:
        """All rows of an in-memory image set."""
        return StreamedImages(TensorImages(data.images, data.binary), np.arange(len(data)),
                              data.labels, data.name)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def binary(self) -> bool:
        """Whether the images hold only 0/1 values (as `ImageSet.binary`)."""
        if self.source.binary is None:
            raise DataError(f"{self.name}: whether the images are 0/1 is known once they are read; "
                            "call load() first")
        return self.source.binary

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.source.image_shape

    def subset(self, index: torch.Tensor) -> StreamedImages:
        """The examples at `index` (integer positions or a boolean mask), as `ImageSet.subset`."""
        if not isinstance(index, torch.Tensor):
            raise DataError(f"StreamedImages.subset: index must be a tensor, got {type(index).__name__}")
        if index.dtype == torch.bool and index.shape != (len(self),):
            raise DataError(f"StreamedImages.subset: a boolean mask must have shape [{len(self)}], "
                            f"got {tuple(index.shape)}")
        labels = None if self.labels is None else self.labels[index]
        return StreamedImages(self.source, self.rows[index.numpy()], labels, self.name)

    def read(self, positions: np.ndarray | slice) -> torch.Tensor:
        """uint8 [k, C, H, W] images at `positions` of this split."""
        return self.source.read(self.rows[positions])

    def head(self, count: int) -> torch.Tensor:
        """The first `count` images (all when `count` <= 0), uint8 [k, C, H, W]."""
        return self.read(slice(None) if count <= 0 else slice(0, count))

    def __getitem__(self, position: int) -> torch.Tensor:
        return self.read(np.array([position]))[0]

    def __getitems__(self, positions: list[int]) -> torch.Tensor:
        """A whole batch in one read (the DataLoader's fetcher calls this when it exists)."""
        return self.read(np.asarray(positions, dtype=np.int64))

    def load(self) -> ImageSet:
        """This split read into memory."""
        return materialize({"split": self})["split"]


def materialize(sets: dict[str, StreamedImages]) -> dict[str, ImageSet]:
    """Read image sets into memory: each source in one front-to-back pass, each row placed
    straight into its split's preallocated uint8 tensor (so the peak is the splits' bytes plus
    a block). A source whose `binary` was open is decided by the same pass."""
    by_source: dict[int, list[str]] = {}
    for name, data in sets.items():
        by_source.setdefault(id(data.source), []).append(name)
    images: dict[str, torch.Tensor] = {}
    for names in by_source.values():
        source = sets[names[0]].source
        if isinstance(source, TensorImages):
            for name in names:
                rows = sets[name].rows
                whole = len(rows) == len(source) and bool((rows == np.arange(len(source))).all())
                images[name] = source.images if whole else source.read(rows)
            continue
        images.update(_one_pass(source, {name: sets[name].rows for name in names}))
    return {name: ImageSet(images[name], data.labels, data.binary, data.name)
            for name, data in sets.items()}


def _one_pass(source: ImageSource, wanted: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    outs = {name: torch.empty((len(rows), *source.image_shape), dtype=torch.uint8)
            for name, rows in wanted.items()}
    orders = {name: np.argsort(rows, kind="stable") for name, rows in wanted.items()}
    ordered = {name: wanted[name][order] for name, order in orders.items()}
    high = 0
    for start, block in source.blocks():
        stop = start + int(block.shape[0])
        if source.binary is None and block.numel():
            high = max(high, int(block.max()))
        for name, rows in ordered.items():
            low, up = np.searchsorted(rows, [start, stop])
            if low < up:
                where = torch.from_numpy(orders[name][low:up])
                outs[name][where] = block[torch.from_numpy(rows[low:up] - start)]
    if source.binary is None:
        source.binary = high <= 1
    return outs


__all__ = ["BLOCK_BYTES", "ArrayImages", "FolderImages", "ImageSource", "StreamedImages",
           "TensorImages", "decode_image", "materialize"]
