"""Writing a file so that a reader sees the old one or the new one, never a torn one.

Light on purpose (no torch): configs, run folders and data caches all write this way.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

#: the names `temporary_beside` gives: `.NAME.` + mkstemp's eight random characters + `.tmp`
TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: new files get the usual permissions (0666 less the umask), as open() would give them
FILE_MODE = 0o666 & ~_umask()


def temporary_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A new, uniquely named, empty file next to `path`: writers of the same file (the ranks of
    a distributed job, two processes) never share a temporary one."""
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(handle, FILE_MODE)  # mkstemp's 0600 would survive the rename
    finally:
        os.close(handle)
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and an atomic rename."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path, older_than_seconds: float = 60.0) -> list[Path]:
    """Delete the temporaries that writers killed mid-write left in `folder` (those untouched for
    `older_than_seconds`; a live writer's is seconds old); the paths removed."""
    cutoff = time.time() - older_than_seconds
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        if not TEMPORARY_NAME.fullmatch(path.name):
            continue
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:  # tidied by another process first, or not ours to remove: leave it
            continue
    return sorted(removed)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
