"""Where a new run goes when nobody says: a fresh, dated folder under runs/ (no torch needed)."""

from __future__ import annotations

import time
from pathlib import Path


def default_run_dir(prefix: str) -> Path:
    """runs/PREFIX-YYYYmmdd-HHMMSS, with -2, -3, ... appended when that folder already exists."""
    name, stamp = Path(prefix).name, time.strftime("%Y%m%d-%H%M%S")
    path, n = Path("runs") / f"{name}-{stamp}", 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{name}-{stamp}-{n}"
    return path
