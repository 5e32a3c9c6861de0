"""Small pieces every command family shares: help formatting and --data-dir."""

from __future__ import annotations

import argparse


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


__all__ = ["add_data_dir"]
