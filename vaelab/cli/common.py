"""Small pieces every command family shares: a command's parser, the RUN argument, --device,
--data-dir, help formatting, and the handler that hands a command to the run's kind."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaelab import kinds


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


def add_command(sub: Any, name: str, summary: str, description: str | None, *,
                epilog: str | None = None, laid_out: bool = False) -> argparse.ArgumentParser:
    """A sub-command's parser: `summary` in `vaelab --help`, `description` atop its own help (the
    `add_...` function's docstring; kept as written when `laid_out`), each flag's default shown
    after its help."""
    return sub.add_parser(name, help=summary, description=inspect.cleandoc(description or ""),
                          epilog=epilog,
                          formatter_class=RawDescriptionHelpFormatter if laid_out else HelpFormatter)


def add_run(parser: argparse.ArgumentParser, what: str = "run folder written by `vaelab train`",
            several: bool = False) -> None:
    """The RUN argument (RUN [RUN ...] when `several`) of a command on trained runs."""
    if several:
        parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help=what)
    else:
        parser.add_argument("run", type=Path, metavar="RUN", help=what)


def add_device(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """--device: where the model runs."""
    others = ", ".join(d for d in ("auto", "cpu", "cuda[:N]") if d != default)
    parser.add_argument("--device", default=default, help=f"{default}, {others}")


def on_the_runs_kind(command: str) -> Callable[[argparse.Namespace], int]:
    """The handler of a command on trained runs: the (first) run's kind does it
    (`kinds.command_of`: a kind without the command is one line naming those that have it)."""
    def handler(args: argparse.Namespace) -> int:
        run = args.runs[0] if hasattr(args, "runs") else args.run
        return int(kinds.command_of(kinds.kind_of_run(run), command)(args) or 0)

    return handler


__all__ = ["HelpFormatter", "RawDescriptionHelpFormatter", "add_command", "add_data_dir", "add_device",
           "add_run", "on_the_runs_kind"]
