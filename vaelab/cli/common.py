"""Small pieces every command family shares: run-folder names, the run-folder listing, arrays out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vaelab.training.run_folder import default_run_dir as default_run_dir

if TYPE_CHECKING:
    import numpy as np


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
    import numpy as np

    np.save(path, array)
    print(f"wrote {path}")


__all__ = ["default_run_dir", "print_run_folder", "save_npy"]
