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


def add_data_dir(parser: argparse.ArgumentParser, sequences: bool = False) -> None:
    """--data-dir for a command that reads a trained run's data: where they are now."""
    if sequences:
        text = ("the folder of the simulated sequences (read, or simulated and cached there) instead "
                "of the run's own data.data_dir")
    else:
        text = ("where the run's data are now, when they moved since training: the folder of a "
                "built-in dataset's files, or the folder holding your own .npy / .npz file or image "
                "folder (looked for by its name; $VAELAB_DATA folders are searched too)")
    parser.add_argument("--data-dir", metavar="FOLDER", help=text)


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


__all__ = ["add_data_dir", "default_run_dir", "print_run_folder", "save_npy"]
