"""Parsing the Larochelle & Murray binarized-MNIST `.amat` text files quickly."""

from __future__ import annotations

import numpy as np

from vaelab.data.errors import DataError

SIDE = 28
LINE_BYTES = 2 * SIDE * SIDE


def parse_amat(raw: bytes, where: str, count: int | None = None) -> np.ndarray:
    """uint8 0/1 images [N, 28, 28] from `.amat` bytes: 784 '0'/'1' per line, single spaces.

    Every line is exactly 1568 bytes, so the text is read as a byte matrix instead of being
    tokenised (much faster than np.loadtxt). `where` names the file in error messages.
    """
    if not raw or len(raw) % LINE_BYTES:
        raise DataError(
            f"{where}: {len(raw)} bytes is not a whole number of {LINE_BYTES}-byte lines "
            "(784 space-separated 0/1 values each); the file is truncated or not binarized MNIST"
        )
    table = np.frombuffer(raw, dtype=np.uint8).reshape(-1, LINE_BYTES)
    if count is not None and table.shape[0] != count:
        raise DataError(f"{where}: {table.shape[0]} lines, expected {count}")
    separators = table[:, 1::2]
    if not ((separators[:, :-1] == ord(" ")).all() and (separators[:, -1] == ord("\n")).all()):
        raise DataError(f"{where}: values must be separated by single spaces, one image a line")
    pixels = table[:, ::2] - np.uint8(ord("0"))
    if pixels.max() > 1:
        raise DataError(f"{where}: found a character other than '0' or '1' where a pixel belongs")
    return pixels.reshape(-1, SIDE, SIDE)
