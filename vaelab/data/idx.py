"""Parsing IDX files (the MNIST / Fashion-MNIST format) with header and length checks."""

from __future__ import annotations

import numpy as np

from vaelab.data.errors import DataError

UBYTE_CODE = 0x08


def parse_idx(raw: bytes, where: str, ndim: int, count: int | None = None) -> np.ndarray:
    """The uint8 array in IDX bytes `raw`, checked against the expected `ndim` and `count`.

    Header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then
    one big-endian uint32 per dimension. `where` names the file in error messages.
    """
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{where}: {len(raw)} bytes is too short for an IDX header; truncated?")
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = (UBYTE_CODE << 8) | ndim
    if magic != expected_magic:
        raise DataError(
            f"{where}: IDX magic number is {magic:#010x}, expected {expected_magic:#010x} "
            f"(unsigned bytes, {ndim} dimension(s)); not the file it is named after?"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if count is not None and shape[0] != count:
        raise DataError(f"{where}: header says {shape[0]} items, expected {count}")
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected_size:
        state = "truncated" if len(raw) < expected_size else "has trailing bytes"
        raise DataError(
            f"{where}: header promises shape {shape} ({expected_size} bytes) but the file has "
            f"{len(raw)} bytes: it {state}. Delete it and run again to re-download it."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)
