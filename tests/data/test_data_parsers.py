"""IDX and .amat parsing: bad headers, truncation and stray characters give DataError."""

from __future__ import annotations

import numpy as np
import pytest

from vaelab.data import DataError
from vaelab.data.amat import parse_amat
from vaelab.data.idx import parse_idx


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def amat_bytes(images: np.ndarray) -> bytes:
    """`.amat` encoding of 0/1 images [N, 28, 28]."""
    rows = images.reshape(len(images), -1)
    return b"".join((" ".join(str(v) for v in row) + "\n").encode() for row in rows)


def test_idx_round_trip() -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    assert np.array_equal(parse_idx(idx_bytes(images), "x", ndim=3, count=5), images)
    labels = np.arange(7, dtype=np.uint8)
    assert np.array_equal(parse_idx(idx_bytes(labels), "y", ndim=1), labels)


def test_idx_truncated_names_file() -> None:
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(DataError, match="some/file.*truncated"):
        parse_idx(raw[:-1], "some/file", ndim=3)
    with pytest.raises(DataError, match="too short"):
        parse_idx(raw[:10], "some/file", ndim=3)


def test_idx_trailing_bytes_wrong_magic_and_count() -> None:
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(DataError, match="trailing bytes"):
        parse_idx(raw + b"\0", "f", ndim=3)
    with pytest.raises(DataError, match="magic number"):
        parse_idx(raw, "f", ndim=1)  # an image file read as labels
    with pytest.raises(DataError, match="expected 6"):
        parse_idx(raw, "f", ndim=3, count=6)


def test_amat_round_trip() -> None:
    images = (np.random.default_rng(1).random((3, 28, 28)) < 0.2).astype(np.uint8)
    raw = amat_bytes(images)
    assert len(raw) == 3 * 1568
    assert np.array_equal(parse_amat(raw, "f", count=3), images)


def test_amat_rejects_bad_input() -> None:
    raw = amat_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="whole number"):
        parse_amat(raw[:-5], "f")
    with pytest.raises(DataError, match="whole number"):
        parse_amat(b"", "f")
    with pytest.raises(DataError, match="other than '0' or '1'"):
        parse_amat(b"2" + raw[1:], "f")
    with pytest.raises(DataError, match="single spaces"):
        parse_amat(raw[:1] + b"," + raw[2:], "f")
    with pytest.raises(DataError, match="expected 3"):
        parse_amat(raw, "f", count=3)
