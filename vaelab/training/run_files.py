"""The files of a run folder, and writing them so that a crash never leaves a torn one.

Light on purpose (no torch): configs and the command line name these files too.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKPOINT = "checkpoint.safetensors"
BEST_WEIGHTS = "model_best.safetensors"
CONFIG = "config.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
