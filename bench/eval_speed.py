"""Evaluation speed: importance-sampled log p(x) against its decoder's matrix products, and a
VampPrior's evaluation against the same model's with a standard normal prior (issue 14, items 4
and 2).

1. The default MLP VAE (z 32, 512-512, Bernoulli decoder) scores test digits with k importance
   samples through `held_out_metrics` (what `vaelab evaluate` runs: the Bernoulli-logit shortcut)
   and through the generic path (`bernoulli_shortcut=False`: Bernoulli.log_prob, q per chunk).
   The floor is the decoder's matrix products alone on the same shapes (the same chunks of
   samples × digits), timed in the same process; the ratio is IS time / floor (target ≤ 1.5).
2. Burda et al.'s two-layer model (100 and 50 latents) with a standard normal prior and with a
   VampPrior of 500 pseudo-inputs on z₂: IS time per digit, and their ratio (target ≤ 2); with
   `--before`, also the VampPrior as it was evaluated before (torch's MixtureSameFamily,
   recomputed for every chunk of samples).

Rounds alternate the contenders and the reported ratio is the median of per-round ratios, so a
machine shared with other jobs slows both sides alike. Weights are untrained (`--run` loads a
trained VAE for part 1): the arithmetic of an evaluation does not depend on the weights' values.

    OMP_NUM_THREADS=1 python bench/eval_speed.py --examples 500 --rounds 3
    OMP_NUM_THREADS=1 python bench/eval_speed.py --examples 10000 --rounds 1 --parts is   # the full test set
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

import vaelab.distributions.learned_priors as learned_priors
import vaelab.evaluation.metrics as metrics
import vaelab.objectives.marginal as marginal
from vaelab.evaluation.metrics import CPU_SAMPLE_BUDGET, held_out_metrics
from vaelab.models import ModelConfig, build_model
from vaelab.training.experiment import load_trained_model

BATCH = 100  # digits per batch in held_out_metrics
BURDA_2 = {"latent_dim": 100, "hidden": (200, 200), "upper_latents": (50,), "upper_hidden": (100, 100),
           "activation": "tanh"}


def test_digits(count: int, data_dir: str | None) -> torch.Tensor:
    """The first `count` MNIST test digits binarized at 0.5 when the files are found; random
    binary images otherwise (the timing is the same)."""
    try:
        from vaelab.data import load_dataset

        images = load_dataset("mnist", data_dir=data_dir, download=False)["test"].images[:count]
        return (images.float() / 255 > 0.5).float()
    except Exception as error:  # noqa: BLE001 - any failure to find data falls back to noise
        print(f"(MNIST not found: {error}; timing on random binary images)")
        return torch.bernoulli(torch.full((count, 1, 28, 28), 0.2))


@contextmanager
def mixture_before() -> Iterator[None]:
    """The VampPrior's evaluation before issue 14: torch's MixtureSameFamily (a [N, K, d]
    broadcast per sample), recomputed for every chunk of samples (no `priors_fixed`)."""
    from torch.distributions import Categorical, MixtureSameFamily

    saved = learned_priors.mixture_of, metrics.priors_fixed, marginal.priors_fixed
    learned_priors.mixture_of = lambda logits, components: MixtureSameFamily(
        Categorical(logits=logits, validate_args=False), components, validate_args=False)
    metrics.priors_fixed = marginal.priors_fixed = lambda model: nullcontext()
    try:
        yield
    finally:
        learned_priors.mixture_of, metrics.priors_fixed, marginal.priors_fixed = saved


def time_is(model: torch.nn.Module, x: torch.Tensor, k: int, shortcut: bool = True) -> float:
    started = time.perf_counter()
    held_out_metrics(model, x, k=k, batch_size=BATCH, progress=False, bernoulli_shortcut=shortcut)
    return time.perf_counter() - started


def decoder_floor(model: torch.nn.Module, examples: int, k: int) -> float:
    """Seconds of the decoder's matrix products alone for k samples of `examples` digits, in the
    chunks held_out_metrics uses (CPU_SAMPLE_BUDGET samples × digits per product)."""
    weights = [m.weight.detach() for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
    per_digit = max(1, CPU_SAMPLE_BUDGET // BATCH)
    rows = per_digit * BATCH
    inputs = [torch.randn(rows, w.shape[1]) for w in weights]
    chunks = -(-examples // BATCH) * -(-k // per_digit)
    started = time.perf_counter()
    for _ in range(chunks):
        for x, w in zip(inputs, weights, strict=True):
            torch.mm(x, w.t())
    return time.perf_counter() - started


def part_is(args: argparse.Namespace, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    if args.run:
        model = load_trained_model(args.run)[0]
    else:
        model = build_model(ModelConfig(), tuple(x.shape[1:]))
    model.eval()
    rows = {"IS (vaelab evaluate)": [], "IS (generic path)": [], "decoder products": []}
    for index in range(args.rounds):
        rows["IS (vaelab evaluate)"].append(time_is(model, x, args.k))
        rows["IS (generic path)"].append(time_is(model, x, args.k, shortcut=False))
        rows["decoder products"].append(decoder_floor(model, x.shape[0], args.k))
        print(f"  round {index + 1}: " + ", ".join(f"{name} {v[-1]:.1f} s" for name, v in rows.items()),
              flush=True)
    floor = rows["decoder products"]
    print(f"default MLP VAE, k = {args.k}, {x.shape[0]} digits, {torch.get_num_threads()} thread(s):")
    for name in ("IS (vaelab evaluate)", "IS (generic path)"):
        ratios = [a / b for a, b in zip(rows[name], floor, strict=True)]
        full = statistics.median(rows[name]) * 10_000 / x.shape[0] / 60
        print(f"  {name:<24} {statistics.median(rows[name]):7.1f} s  (10,000 digits ≈ {full:.1f} min)  "
              f"/ decoder products: {statistics.median(ratios):.2f}  (per round "
              + ", ".join(f"{r:.2f}" for r in ratios) + ")  target ≤ 1.5")


def part_vamp(args: argparse.Namespace, x: torch.Tensor) -> None:
    x = x[: args.vamp_examples]
    models = {}
    for prior in ("normal", "vamp"):
        torch.manual_seed(0)
        extra = {"prior": prior, "prior_components": 500} if prior == "vamp" else {}
        models[prior] = build_model(ModelConfig(**BURDA_2, **extra), tuple(x.shape[1:])).eval()
    times: dict[str, list[float]] = {name: [] for name in models}
    if args.before:
        times["vamp before"] = []
    for index in range(args.rounds):
        for name, model in models.items():
            times[name].append(time_is(model, x, args.k))
        if args.before:
            with mixture_before():
                times["vamp before"].append(time_is(models["vamp"], x, args.k))
        print(f"  round {index + 1}: " + ", ".join(f"{name} {t[-1]:.1f} s" for name, t in times.items()),
              flush=True)
    ratios = [v / n for v, n in zip(times["vamp"], times["normal"], strict=True)]
    per_digit = {name: statistics.median(t) / x.shape[0] for name, t in times.items()}
    print(f"two-layer model (Burda et al.'s 100/50), k = {args.k}, {x.shape[0]} digits:")
    for name, seconds in per_digit.items():
        print(f"  {name:<7} prior: {seconds * 1000:.0f} ms per digit (10,000 digits ≈ "
              f"{seconds * 10_000 / 60:.1f} min)")
    print(f"  VampPrior / normal prior: {statistics.median(ratios):.2f} (per round "
          + ", ".join(f"{r:.2f}" for r in ratios) + ")  target ≤ 2")
    if args.before:
        before = [v / n for v, n in zip(times["vamp before"], times["normal"], strict=True)]
        print(f"  VampPrior before (MixtureSameFamily per chunk) / normal prior: "
              f"{statistics.median(before):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="test digits for part 1")
    parser.add_argument("--vamp-examples", type=int, default=200, help="test digits for part 2")
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", nargs="+", choices=("is", "vamp"), default=["is", "vamp"])
    parser.add_argument("--before", action="store_true",
                        help="part 2 also times the VampPrior's evaluation as it was before issue 14")
    parser.add_argument("--run", type=Path, help="a trained VAE run for part 1 (default: untrained)")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = test_digits(max(args.examples, args.vamp_examples), args.data_dir)
    if "is" in args.parts:
        part_is(args, x[: args.examples])
    if "vamp" in args.parts:
        part_vamp(args, x)


if __name__ == "__main__":
    main()
