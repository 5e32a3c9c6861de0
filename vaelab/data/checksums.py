"""Checksum verification of dataset files, remembered per (path, size, mtime) in-process."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

from vaelab.data.catalog import RemoteFile
from vaelab.data.errors import DataError

_VERIFIED: set[tuple[str, int, int]] = set()


def digest(data: bytes, algorithm: str) -> str:
    """Hex digest of `data` with a hashlib algorithm name ("md5", "sha256")."""
    return hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def mark_verified(path: Path) -> None:
    """Remember that `path`, as it is now on disk, passed its checksum."""
    _VERIFIED.add(_stat_key(path))


def read_verified(path: Path, spec: RemoteFile, compressed: bool | None = None) -> bytes:
    """The uncompressed bytes of `path`, after checking them against `spec`'s digests.

    A `.gz` file passes if its own digest matches the distributed one, or if its decompressed
    content matches the uncompressed one (a file re-compressed with other settings). A file that
    passed before and has not changed since (same size and mtime) is not hashed again.
    """
    if compressed is None:
        compressed = path.suffix == ".gz"
    try:
        key = _stat_key(path)
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read dataset file {path}: {err}") from err
    trusted = key in _VERIFIED
    if compressed and not trusted:
        trusted = digest(data, spec.algorithm) == spec.gz_digest
    raw = _decompress(data, path) if compressed else data
    if not trusted:
        if digest(raw, spec.algorithm) != spec.raw_digest:
            what = "the .gz file" if compressed else "the file"
            expected = spec.gz_digest if compressed else spec.raw_digest
            raise DataError(
                f"checksum mismatch for {path}: expected {spec.algorithm} {expected} for {what}, "
                f"got {digest(data, spec.algorithm)}. The file is corrupt, truncated or a "
                f"different version of {spec.name}; delete it and run again to re-download it "
                "(or copy a fresh one in its place)."
            )
    _VERIFIED.add(key)
    return raw


def _decompress(data: bytes, path: Path) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path} is not a readable gzip file ({err}); it is probably truncated or corrupt. "
            "Delete it and run again to re-download it (or copy a fresh one in its place)."
        ) from err
