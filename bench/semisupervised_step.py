"""Training-step speed of the semi-supervised models (M2, ADGM, SDGM): each image's share of
the first layers computed once for all classes (`ConditionalDistribution.from_parts`) against
the concatenated parents the networks took before (x repeated beside each of the C classes).

    OMP_NUM_THREADS=1 python bench/semisupervised_step.py      # --rounds 10 --steps 10
    OMP_NUM_THREADS=1 python bench/semisupervised_step.py --bf16   # float32 against bf16 autocast

The bench sizes of issue 27 (z and a of 50, networks 500 wide, 100 unlabelled + 100 labelled
images per step, Bernoulli likelihood); both contenders in one process, interleaved rounds.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from interleaved import fake_mnist, interleaved_rates, paired_ratio, print_rates
from torch.distributions import Distribution

from vaelab.distributions.families import BernoulliFamily
from vaelab.models.conditional import ConditionalDistribution, concatenated
from vaelab.models.m2 import M2, M2Shape, build_m2
from vaelab.objectives.semisupervised import semisupervised_loss

FROM_PARTS = ConditionalDistribution.from_parts


def whole(self: ConditionalDistribution, parts: list[torch.Tensor]) -> Distribution:
    """What the networks did before: build cat(parts) at the full batch, then run it."""
    return self(concatenated(parts))


@contextmanager
def parents_as(way: object) -> Iterator[None]:
    ConditionalDistribution.from_parts = way  # type: ignore[method-assign]
    try:
        yield
    finally:
        ConditionalDistribution.from_parts = FROM_PARTS  # type: ignore[method-assign]


def timer(way: object, bf16: bool = False):
    def run(images: torch.Tensor, steps: int, state: tuple[M2, torch.optim.Optimizer]) -> float:
        import time

        model, optimizer = state
        labels = torch.arange(100) % 10
        with parents_as(way):
            start = time.perf_counter()
            for step in range(steps):
                x = torch.bernoulli(images[(step * 100) % 900:][:100].float() / 255)
                x_l = torch.bernoulli(images[900:1000].float() / 255)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = semisupervised_loss(model, x, x_l, labels, weight=60.0).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return 200 * steps / (time.perf_counter() - start)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=["m2", "adgm", "sdgm"])
    parser.add_argument("--bf16", action="store_true",
                        help="time float32 against bfloat16 autocast (both with the parts)")
    args = parser.parse_args()
    images = fake_mnist(1000, torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); images/s counts "
          "unlabelled + labelled images of a step")
    for kind in args.models:
        torch.manual_seed(0)
        model = build_m2(M2Shape(10, latent_dim=50, hidden=(500,), classifier_hidden=(500,),
                                 auxiliary=None if kind == "m2" else kind, auxiliary_dim=50),
                         (1, 28, 28), BernoulliFamily())
        state = (model, torch.optim.Adam(model.parameters(), 1e-3))
        first, second = ("bf16", "fp32") if args.bf16 else ("parts", "concatenated")
        contenders = ({"bf16": (timer(FROM_PARTS, bf16=True), state), "fp32": (timer(FROM_PARTS), state)}
                      if args.bf16 else
                      {"parts": (timer(FROM_PARTS), state), "concatenated": (timer(whole), state)})
        rates = interleaved_rates(contenders, images, args.rounds, args.steps, warmup=3)
        print_rates(rates, f"{kind}:")
        print(f"  {first} / {second} = {paired_ratio(rates, first, second):.2f}")


if __name__ == "__main__":
    main()
