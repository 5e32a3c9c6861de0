"""zuko's MADE against a hand-written one, as the IAF guide's step (issue 25: library or own code?).

Both build the same inverse autoregressive flow q(z | x): K affine steps z ← exp(a) ⊙ z + m with
(m, a) from a MADE over [z, h] (Kingma et al. 2016; the hand-written MADE follows Germain et al.
2015: degrees, masks, the context connected to every hidden unit). Timed: a training step's
guide work (rsample, log q of the draws, backward) and the stopped-parameter log q that STL/DReG
need (the flow inverted, d passes a step). Interleaved rounds; medians.

    python bench/guide_flows.py            # --batch 128 --dim 32 --steps 4 --rounds 15
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch
from torch import nn
from torch.distributions import Independent, Normal, TransformedDistribution, constraints
from torch.distributions.transforms import Transform
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.transforms import AutoregressiveTransform


class MaskedLinear(nn.Linear):
    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class HandMADE(nn.Module):
    """MADE over [z (d), h (c)] -> (shift, log-scale) per coordinate, coordinate i seeing z_<i."""

    def __init__(self, d: int, c: int, hidden: int, reverse: bool) -> None:
        super().__init__()
        order = torch.arange(d).flip(0) if reverse else torch.arange(d)
        inputs = torch.cat([order, torch.full((c,), -1)])  # context: degree -1, seen by all
        hidden_deg = torch.arange(hidden) % max(d - 1, 1)
        m1 = hidden_deg[:, None] >= inputs[None, :]
        m2 = hidden_deg[:, None] >= hidden_deg[None, :]
        out = order.repeat(2)
        m3 = out[:, None] > hidden_deg[None, :]
        self.net = nn.Sequential(MaskedLinear(m1), nn.ReLU(), MaskedLinear(m2), nn.ReLU(), MaskedLinear(m3))
        self.d = d

    def forward(self, z: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = h.expand(*z.shape[:-1], h.shape[-1])
        shift, raw = self.net(torch.cat([z, h], -1)).split(self.d, -1)
        return shift, raw / (1 + raw.abs() / 6.9)


class HandIAFStep(Transform):
    domain = codomain = constraints.real_vector
    bijective = True

    def __init__(self, made: HandMADE, h: torch.Tensor) -> None:
        super().__init__(cache_size=1)
        self.made, self.h = made, h

    def _call(self, z: torch.Tensor) -> torch.Tensor:
        shift, log_scale = self.made(z, self.h)
        return z * log_scale.exp() + shift

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        z = torch.zeros_like(y)
        for _ in range(self.made.d):
            shift, log_scale = self.made(z, self.h)
            z = (y - shift) * (-log_scale).exp()
        return z

    def log_abs_det_jacobian(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.made(z, self.h)[1].sum(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    d, c, b, hidden = args.dim, args.dim, args.batch, max(64, 4 * args.dim)
    zuko_made = nn.ModuleList(MaskedAutoregressiveTransform(
        d, c, order=torch.arange(d).flip(0) if k % 2 else torch.arange(d), hidden_features=(hidden, hidden))
        for k in range(args.steps))
    hand_made = nn.ModuleList(HandMADE(d, c, hidden, k % 2 == 1) for k in range(args.steps))
    loc = torch.randn(b, d, requires_grad=True)
    h = torch.randn(b, c, requires_grad=True)
    base = Independent(Normal(loc, torch.ones_like(loc)), 1)

    def zuko_q() -> TransformedDistribution:
        steps = [AutoregressiveTransform(partial(m.meta, h), m.passes, cache_size=1) for m in zuko_made]
        return TransformedDistribution(base, steps)

    def hand_q() -> TransformedDistribution:
        return TransformedDistribution(base, [HandIAFStep(m, h) for m in hand_made])

    def train_step(make) -> None:
        q = make()
        z = q.rsample()
        (q.log_prob(z).sum() + z.square().sum()).backward()

    def stopped(make) -> None:
        with torch.no_grad():
            z = make().rsample()
        make().log_prob(z.requires_grad_()).sum().backward()

    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, make in (("zuko", zuko_q), ("hand", hand_q)):
            for task_name, task in (("step", train_step), ("stopped", stopped)):
                start = time.perf_counter()
                for _ in range(args.reps):
                    task(make)
                results.setdefault(f"{name} {task_name}", []).append(
                    (time.perf_counter() - start) / args.reps * 1e3)
    print(f"batch {b}, d = {d}, context {c}, K = {args.steps}, MADE hidden ({hidden}, {hidden}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); median ms per call")
    for key, values in results.items():
        print(f"  {key:14s} {statistics.median(values):8.2f} ms")


if __name__ == "__main__":
    main()
