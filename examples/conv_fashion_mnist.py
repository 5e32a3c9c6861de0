"""Your own convolutional encoder and decoder on Fashion-MNIST, through `vaelab.fit`.

The networks are plain `nn.Module`s written here; `VAE.from_networks` checks their shapes once and
wires them as q(z | x) = Normal(μ(x), σ(x)²) and p(x | z) = Bernoulli(logits(z)) (grey pixels are
binarized afresh every epoch). Training writes a run folder like the CLI's (checkpoints, exact
resume, metrics.jsonl); then the test log-likelihood by importance sampling, and the HTML report.

    python examples/conv_fashion_mnist.py --data-dir ../shared/data          # ~6 min on 2 CPU cores
    python examples/conv_fashion_mnist.py --epochs 1 --train 512 --test 64 -k 20   # seconds
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

import vaelab

SHAPE = (1, 28, 28)


class ConvEncoder(nn.Module):
    """x [B, 1, 28, 28] -> [B, 2·d]: the mean and log standard deviation of q(z | x)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),   # 14 x 14
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),  # 7 x 7
            nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """z [B, d] -> Bernoulli logits [B, 1, 28, 28]."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(),
                                  nn.Linear(256, 64 * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # 14 x 14
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1))              # 28 x 28

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.stem(z).reshape(-1, 64, 7, 7))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data-dir", default=os.environ.get("VAELAB_DATA"),
                        help="folder holding the Fashion-MNIST files (or $VAELAB_DATA)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, default=20_000, help="training images used")
    parser.add_argument("--test", type=int, default=1000, help="test images scored")
    parser.add_argument("-k", type=int, default=200, help="importance samples per test image")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="run folder")
    args = parser.parse_args(argv)

    splits = vaelab.load_dataset("fashion-mnist", data_dir=args.data_dir)
    train = splits["train"].images[:args.train]          # uint8 [N, 1, 28, 28]
    valid = splits["train"].images[-1000:]
    test = splits["test"]

    torch.manual_seed(0)
    model = vaelab.VAE.from_networks(ConvEncoder(args.latent_dim), ConvDecoder(args.latent_dim),
                                     "bernoulli", latent_dim=args.latent_dim, data_shape=SHAPE)
    run_dir = args.out or Path(tempfile.mkdtemp(prefix="vaelab-fashion-"))
    run = vaelab.fit(model, train, valid=valid, epochs=args.epochs, batch_size=128, lr=1e-3,
                     kl_warmup_steps=500, run_dir=run_dir)
    result = vaelab.evaluate(model, test, k=args.k, examples=args.test)
    print(f"test ELBO {result['elbo']['mean']:.2f} ± {result['elbo']['stderr']:.2f}, "
          f"log p(x) (IS, k={args.k}) {result['log_px_is']['mean']:.2f} ± "
          f"{result['log_px_is']['stderr']:.2f} "
          f"nats over {result['examples']} Fashion-MNIST test images")
    page = vaelab.report(model, run.run_dir, test, k=args.k, examples=args.test)
    print(f"report: {page}")
    return {"history": run.history, "test": result, "run_dir": run.run_dir, "report": page}


if __name__ == "__main__":
    main()
