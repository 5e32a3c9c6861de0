"""The files of a run folder, and writing them so that a crash never leaves a torn one.

Light on purpose (no torch): configs and the command line name these files too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CHECKPOINT = "checkpoint.safetensors"
BEST_WEIGHTS = "model_best.safetensors"
CONFIG = "config.json"


def temporary_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A new, uniquely named file next to `path`: writers of the same file (the ranks of a
    distributed job, two processes) never share a temporary one."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and an atomic rename: a reader sees the old
    file or the new one, never a torn one."""
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


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
