"""`vaelab classify RUN IMAGES`: the flags; the semisupervised kind (vaelab/kinds/semisupervised.py)
does the work, as it does for every other command on its runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaelab.cli.common import add_command, add_device, add_run, on_the_runs_kind


def add_classify(sub: Any) -> None:
    """Print each image's most probable class and q(y | x) for a run trained with --model m2,
    m1m2, adgm or sdgm.
    IMAGES are image files (PNG/JPEG), folders of images or .npy/.npz arrays, sized like the run's
    training images. Grey images meeting a Bernoulli likelihood are binarized one by one from a
    fixed seed and their own pixels: an image gets the same answer wherever it sits and on every
    call."""
    p = add_command(sub, "classify", "label images with a semi-supervised run's classifier q(y | x)",
                    add_classify.__doc__)
    add_run(p, "run folder written by `vaelab train --model m2|m1m2|adgm|sdgm`")
    p.add_argument("images", type=Path, nargs="+", help="image files, folders, .npy/.npz")
    p.add_argument("--top", type=int, default=3, help="classes shown per image")
    p.add_argument("--json", type=Path, help="also write names, predictions and probabilities")
    p.add_argument("--image-size", type=int, help="resize images to this square size first")
    add_device(p)
    p.set_defaults(handler=on_the_runs_kind("classify"))

