"""Small pieces every command family shares: run-folder names, the run-folder listing, arrays out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from vaelab.training.run_folder import default_run_dir as default_run_dir

if TYPE_CHECKING:
    import numpy as np


class HelpFormatter(argparse.HelpFormatter):
    """Shows a flag's default after its help, unless there is none to show (None or False: the
    setting then comes from the config or the kind) or the help already states it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or "default" in text
                or not action.option_strings):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, tuple | list) else default
        return f"{text} (default: {shown})"


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """HelpFormatter for a description laid out by hand (kept as written)."""


def print_run_folder(run_dir: Path) -> None:
    """Print where a run lives and the files it holds."""
    run_dir = Path(run_dir)
    print(f"run folder: {run_dir.resolve()}")
    for name in sorted(p.name + ("/" if p.is_dir() else "") for p in run_dir.iterdir()):
        print(f"  {name}")


def save_npy(path: Path | None, array: np.ndarray) -> None:
    """Write `array` to `path` (an --npy option) and say so; nothing when `path` is None."""
    if path is None:
        return
    import numpy as np

    np.save(path, array)
    print(f"wrote {path}")


__all__ = ["default_run_dir", "print_run_folder", "save_npy"]
