"""A numpy array in a `.npy` file (or an `.npz` member), read a block of rows at a time.

Nothing here holds the whole array: `blocks` reads it front to back in blocks of a few
megabytes, and `rows` reads single rows of a `.npy` file with positioned reads. Positioned reads
rather than a memory map: the pages of a mapped file count toward the process's resident memory
once touched, so an epoch over a mapped file would make a streamed run look as large as its data.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from vaelab.data.errors import DataError

#: bytes read per block by `ArrayFile.blocks`
BLOCK_BYTES = 16 * 1024 * 1024


def _read_header(handle: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, fortran_order, dtype = fmt.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran_order, dtype = fmt.read_array_header_2_0(handle)
        else:
            shape, fortran_order, dtype = fmt._read_array_header(handle, version)  # noqa: SLF001
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"cannot read {where} as a numpy array file: {err}") from err
    if dtype.hasobject:
        raise DataError(f"cannot read {where}: it holds Python objects (dtype {dtype}); store the "
                        "images as a uint8 (0..255), float (0..1) or bool array")
    return tuple(int(d) for d in shape), dtype, bool(fortran_order)


@dataclass(frozen=True)
class ArrayFile:
    """Where an array lives (`path`, and `key` inside an `.npz`), its shape and dtype, and
    `offset`, the byte where the data of a `.npy` file begin."""

    path: Path
    key: str | None
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @staticmethod
    def open(path: Path, key: str | None = None) -> ArrayFile:
        """Read the header of a `.npy` file, or of member `key` of an `.npz` file."""
        where = str(path) if key is None else f"{path} [{key}]"
        try:
            with _data(path, key, 0) as handle:
                shape, dtype, fortran_order = _read_header(handle, where)
                offset = handle.tell()
        except (OSError, zipfile.BadZipFile, KeyError) as err:
            raise DataError(f"cannot read {where} as a numpy array file: {err}") from err
        return ArrayFile(path, key, shape, dtype, fortran_order, offset)

    @property
    def where(self) -> str:
        return str(self.path) if self.key is None else f"{self.path} [{self.key}]"

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize

    @property
    def seekable(self) -> bool:
        """Rows can be read one by one: a C-ordered array in a `.npy` file."""
        return self.key is None and not self.fortran_order

    def blocks(self, block_bytes: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows) for consecutive blocks of about `block_bytes` (default BLOCK_BYTES)."""
        n = len(self)
        if self.fortran_order or not self.shape:  # rows are not contiguous: read it whole
            array = _load_whole(self)
            if n:
                yield 0, array
            return
        per_block = max(1, (block_bytes or BLOCK_BYTES) // max(1, self.row_bytes))
        with _data(self.path, self.key, self.offset) as handle:
            for start in range(0, n, per_block):
                count = min(per_block, n - start)
                raw = bytearray(count * self.row_bytes)
                if handle.readinto(raw) != len(raw):
                    raise DataError(f"{self.where}: the file ends early (truncated after row {start})")
                yield start, np.frombuffer(raw, self.dtype).reshape((count, *self.shape[1:]))

    def rows(self, index: np.ndarray, fd: int) -> np.ndarray:
        """The rows at `index` (in that order) of a seekable array, read from `fd` (this file,
        opened for reading) with one positioned read per row."""
        size = self.row_bytes
        buffer = bytearray(len(index) * size)
        view = memoryview(buffer)
        for i, row in enumerate(index.tolist()):
            if not 0 <= row < len(self):
                raise IndexError(f"row {row} is out of range for {len(self)} rows")
            got = os.preadv(fd, [view[i * size:(i + 1) * size]], self.offset + row * size)
            if got != size:
                raise DataError(f"{self.where}: the file ends early (row {row} is truncated)")
        return np.frombuffer(buffer, self.dtype).reshape((len(index), *self.shape[1:]))


@contextmanager
def _data(path: Path, key: str | None, offset: int) -> Iterator[IO[bytes]]:
    """A binary stream positioned `offset` bytes into the `.npy` file or `.npz` member."""
    if key is None:
        with open(path, "rb") as handle:
            handle.seek(offset)
            yield handle
        return
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as handle:
        if offset:
            handle.read(offset)
        yield handle


def _load_whole(file: ArrayFile) -> np.ndarray:
    try:
        if file.key is None:
            return np.load(file.path, allow_pickle=False)
        with np.load(file.path, allow_pickle=False) as archive:
            return archive[file.key]
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"cannot read {file.where} as a numpy array file: {err}") from err


def npz_keys(path: Path) -> list[str]:
    """The array names in an `.npz` file."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [name[:-4] for name in archive.namelist() if name.endswith(".npy")]
    except (OSError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {path} as a numpy array file: {err}") from err


def load_member(path: Path, key: str) -> np.ndarray:
    """One whole array of an `.npz` file (for labels, which are small)."""
    return _load_whole(ArrayFile(path, key, (), np.dtype(np.uint8), False, 0))


__all__ = ["BLOCK_BYTES", "ArrayFile", "load_member", "npz_keys"]
