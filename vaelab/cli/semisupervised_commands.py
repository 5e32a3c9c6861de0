"""The command only semi-supervised runs have: `vaelab classify RUN IMAGES`.

Training, evaluating and sampling (`--class C`) go through the common commands and the
semisupervised kind (vaelab/kinds/semisupervised.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vaelab.cli.common import HelpFormatter
from vaelab.training.config import ConfigError
from vaelab.training.semisupervised_config import is_semisupervised_run


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
    from vaelab.data.user_images import read_images
    from vaelab.evaluation.classification import class_probabilities, model_space
    from vaelab.runs.checkpoint import CheckpointError
    from vaelab.training.experiment import load_trained_model

    if not is_semisupervised_run(args.run):
        raise CheckpointError(f"{args.run} is not a semi-supervised run (train one with "
                              "`vaelab train --model m2`)")
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    model, _, _ = load_trained_model(args.run, device=args.device, data=False)
    images, names, binary = read_images(args.images, args.image_size)
    expected = tuple(model.data_shape)
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(f"the images are {tuple(images.shape[1:])} (C, H, W) but the run was "
                          f"trained on {expected}; pass --image-size or convert them")
    probs = class_probabilities(model, model_space(model, images, binary)).cpu()
    top = min(args.top, probs.shape[1])
    for name, row in zip(names, probs, strict=True):
        values, classes = row.topk(top)
        shown = "  ".join(f"{int(c)}: {float(v):.3f}" for v, c in zip(values, classes, strict=True))
        print(f"{name}\t{int(classes[0])}\t{shown}")
    if args.json:
        args.json.write_text(json.dumps([
            {"image": n, "class": int(r.argmax()), "probabilities": [round(float(v), 6) for v in r]}
            for n, r in zip(names, probs, strict=True)], indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0
