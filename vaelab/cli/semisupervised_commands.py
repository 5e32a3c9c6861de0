"""`vaelab classify RUN IMAGES`: the flags; the semisupervised kind (vaelab/kinds/semisupervised.py)
does the work, as it does for every other command on its runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaelab import kinds
from vaelab.cli.common import HelpFormatter


def add_classify(sub: Any) -> None:
    p = sub.add_parser(
        "classify", help="label images with a semi-supervised run's classifier q(y | x)",
        description="Print each image's most probable class and q(y | x) for a run trained with "
                    "--model m2 or m1m2. IMAGES are image files (PNG/JPEG), folders of images or "
                    ".npy/.npz arrays, sized like the run's training images. Grey images meeting a "
                    "Bernoulli likelihood are binarized one by one from a fixed seed and their own "
                    "pixels: an image gets the same answer wherever it sits and on every call.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder written by `vaelab train --model m2|m1m2`")
    p.add_argument("images", type=Path, nargs="+", help="image files, folders, .npy/.npz")
    p.add_argument("--top", type=int, default=3, help="classes shown per image")
    p.add_argument("--json", type=Path, help="also write names, predictions and probabilities")
    p.add_argument("--image-size", type=int, help="resize images to this square size first")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.set_defaults(handler=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    return int(kinds.command_of(kinds.kind_of_run(args.run), "classify")(args) or 0)
