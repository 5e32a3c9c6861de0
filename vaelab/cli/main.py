"""The `vaelab` command: train, evaluate, sample, demo, report, reconstruct, explore, and the
commands of particular kinds (simulate, predict, compare, classify).

The only place argv and config files are read. Each command turns flags into configs and calls
the library; any mistake a user can make ends in one line `vaelab: error: ...` and exit 2.
Building the parser loads no torch, so `--help` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from vaelab import __version__
from vaelab.cli import commands, explore_commands, report_commands, semisupervised_commands, sequence_commands
from vaelab.data.errors import RunDataMissing

USAGE_ERRORS = 2
PLAIN_WARNING_FORMAT = warnings.formatwarning


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes end in one line (and a pointer to --help), not the usage
    block: `vaelab: error: argument --epochs: invalid int value: 'abc' (see vaelab train --help)`.

    Flags must be typed whole: argparse's prefix matching would read `--k 5` as `--ks 5` and
    `--epoch` as `--epochs`, running something the user did not ask for without a word.
    Sub-command parsers are made by the same class, so the rule holds for every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERRORS, f"vaelab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vaelab",
        description="Deep latent-variable models and amortized variational inference (VAEs).",
        epilog="Start with `vaelab demo`: it trains a VAE on the built-in 5,000-digit MNIST subset "
               "and writes samples, reconstructions, curves and log p(x) estimates. "
               "`vaelab COMMAND --help` explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"vaelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_train(sub)
    commands.add_evaluate(sub)
    commands.add_sample(sub)
    commands.add_demo(sub)
    report_commands.add_report(sub)
    report_commands.add_reconstruct(sub)
    sequence_commands.add_simulate(sub)
    sequence_commands.add_predict(sub)
    sequence_commands.add_compare(sub)
    semisupervised_commands.add_classify(sub)
    explore_commands.add_explore(sub)
    return parser


def interrupted_message(command: str | None) -> str:
    """What Ctrl-C means for the interrupted command."""
    if command in ("train", "demo"):
        return ("vaelab: interrupted; the run keeps its last checkpoint (end of the last finished "
                "epoch): continue it with `vaelab train --resume RUN`")
    return "vaelab: interrupted; nothing was written by the unfinished step"


def refuse_unknown(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> NoReturn:
    """Stop on words no flag of `command` takes, in one line from the command's own parser (so
    the hint names `vaelab COMMAND --help`), with the nearest whole flag when one is close."""
    import difflib

    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    own = commands.choices[command]
    flags = [flag for action in own._actions for flag in action.option_strings]
    message = f"unrecognized arguments: {' '.join(unknown)}"
    typed = next((word.split("=")[0] for word in unknown if word.startswith("--")), None)
    near = difflib.get_close_matches(typed, flags, n=2, cutoff=0.75) if typed else []
    if near:
        message += f"; did you mean {' or '.join(near)}?"
    own.error(message)


def one_line_warnings() -> None:
    """vaelab's own warnings (a run that lost its best weights, ...) as one line each,
    `vaelab: warning: ...`, said once per command rather than once per place that noticed."""
    def formatted(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  line: str | None = None) -> str:
        if category.__module__.startswith("vaelab."):
            return f"vaelab: warning: {message}\n"
        return PLAIN_WARNING_FORMAT(message, category, filename, lineno, line)

    warnings.formatwarning = formatted
    warnings.filterwarnings("once", module=r"vaelab\.")


def leave_distributed_job(code: int) -> int:
    """`code`, or — in a process of a torchrun job, once its command is done and every file is
    written — the end of the process right here: the interpreter's own exit can abort in the
    gloo transport's threads ("terminate called without an active exception"), which torchrun
    reports as a failed job after all its work succeeded."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    one_line_warnings()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        refuse_unknown(parser, args.command, unknown)
    args.argv = argv  # for commands that relaunch themselves (train --nproc)
    try:
        return leave_distributed_job(int(args.handler(args) or 0))
    except KeyboardInterrupt:
        print(interrupted_message(getattr(args, "command", None)), file=sys.stderr)
        return 130
    except Exception as error:
        # the common mistakes (ValueError: configs, data, run folders) need no import to recognise
        light = isinstance(error, ValueError | FileExistsError)
        if not light and not isinstance(error, commands.user_errors()):
            raise
        print(f"vaelab: error: {error_message(error, argv)}", file=sys.stderr)
        return USAGE_ERRORS


def error_message(error: BaseException, argv: Sequence[str]) -> str:
    """What a user's mistake prints; when a run's data moved, the command to run with --data-dir."""
    if isinstance(error, RunDataMissing):
        return error.for_command(with_data_dir(argv))
    return str(error)


def with_data_dir(argv: Sequence[str]) -> str:
    """`vaelab ARGV --data-dir FOLDER`: the command as typed, any --data-dir it had replaced."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip or arg.startswith("--data-dir="):
            skip = False
            continue
        if arg == "--data-dir":
            skip = True
            continue
        kept.append(arg)
    return shlex.join(["vaelab", *kept]) + " --data-dir FOLDER"


if __name__ == "__main__":
    raise SystemExit(main())
