"""A toy model kind, registered by the tests: a linear-Gaussian model of random vectors.

It shows what a kind module supplies (see vaelab/kinds/__init__.py): its own train flags, train,
evaluate, sample and load, and one optional command (report) — here in a few lines on top of
`vaelab.fit`, `vaelab.evaluate` and `vaelab.report`. A kind without reconstruct, predict, ...
is told apart by the command line in one line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

import vaelab
from vaelab.models import LinearGaussianModel

DATA_DIM, LATENT_DIM = 4, 2


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("toy (--model toy)")
    group.add_argument("--toy-examples", type=int, help="random vectors to train on (toy kind)")


def _data(examples: int) -> torch.Tensor:
    return torch.randn(examples, DATA_DIM, generator=torch.Generator().manual_seed(0))


def train(args: argparse.Namespace) -> int:
    run_dir = args.resume or args.run_dir
    examples = args.toy_examples or 64
    run = vaelab.fit(LinearGaussianModel(DATA_DIM, LATENT_DIM), _data(examples), epochs=args.epochs or 2,
                     batch_size=16, run_dir=run_dir, resume=args.resume is not None, progress=False)
    # the run folder belongs to this kind: its config says so, and says how to rebuild the model
    (Path(run_dir) / "config.json").write_text(json.dumps({"kind": "toy", "examples": examples}))
    print(f"toy trained {len(run.history)} epochs")
    return 0


def load(run_dir: Path, best: bool = True, device: str = "cpu", data: bool = True) -> tuple[Any, Any, Any]:
    config = json.loads((Path(run_dir) / "config.json").read_text())
    model = vaelab.load_weights(LinearGaussianModel(DATA_DIM, LATENT_DIM), run_dir, best)
    return model.to(device), config, {"test": _data(config["examples"])}


def evaluate(args: argparse.Namespace) -> int:
    model, _, data = load(args.run)
    result = vaelab.evaluate(model, data["test"], k=args.samples)
    print(f"toy log p(x) {result['log_px_is']['mean']:.3f}")
    return 0


def sample(args: argparse.Namespace) -> int:
    model, _, _ = load(args.run)
    print(f"toy samples {tuple(model.sample(args.num).shape)}")
    return 0


def report(args: argparse.Namespace) -> int:
    run = args.runs[0]
    model, _, data = load(run)
    print(f"wrote {vaelab.report(model, run, data['test'], k=20, progress=False)}")
    return 0
