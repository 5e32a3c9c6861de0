"""The `vaelab` command: train, evaluate, sample, demo, report, reconstruct.

The only place argv and config files are read. Each command turns flags into configs and calls
the library; any mistake a user can make ends in one line `vaelab: error: ...` and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vaelab import __version__
from vaelab.cli import commands, report_commands, semisupervised_commands, sequence_commands

USAGE_ERRORS = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # for commands that relaunch themselves (train --nproc)
    try:
        return int(args.handler(args) or 0)
    except commands.USER_ERRORS as error:
        print(f"vaelab: error: {error}", file=sys.stderr)
        return USAGE_ERRORS
    except KeyboardInterrupt:
        print("vaelab: interrupted; a run can be continued with `vaelab train --resume RUN`",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
