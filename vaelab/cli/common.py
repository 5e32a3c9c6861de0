"""Small pieces every command family shares: run-folder names, the run-folder listing, arrays out."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def default_run_dir(prefix: str) -> Path:
    """runs/PREFIX-YYYYmmdd-HHMMSS, with -2, -3, ... appended when that folder already exists."""
    name, stamp = Path(prefix).name, time.strftime("%Y%m%d-%H%M%S")
    path, n = Path("runs") / f"{name}-{stamp}", 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{name}-{stamp}-{n}"
    return path


def print_run_folder(run_dir: Path) -> None:
    """Print where a run lives and the files it holds."""
    run_dir = Path(run_dir)
    print(f"run folder: {run_dir.resolve()}")
    for name in sorted(p.name for p in run_dir.iterdir() if p.is_file()):
        print(f"  {name}")


def save_npy(path: Path | None, array: np.ndarray) -> None:
    """Write `array` to `path` (an --npy option) and say so; nothing when `path` is None."""
    if path is None:
        return
    np.save(path, array)
    print(f"wrote {path}")


__all__ = ["default_run_dir", "print_run_folder", "save_npy"]
