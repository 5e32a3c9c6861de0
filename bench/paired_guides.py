"""Two runs' test log p(x), image by image, and their paired difference (issue 25: iaf vs diagonal).

Each run's model (best weights) is scored by importance sampling with the same k, the same images
and the same seed; per-image figures are kept (`--keep FOLDER`) so the difference is paired and a
rerun can skip a run already scored. Pareto k̂ is reported beside each estimate.

    python bench/paired_guides.py runs/post-diagonal runs/post-iaf-2 --data-dir ../shared/data \
        --examples 0 -k 5000 --keep runs/paired
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

import vaelab
from vaelab.kinds import read_run_config
from vaelab.objectives.marginal import importance_sampled_log_marginal
from vaelab.objectives.pareto import TRUST_THRESHOLD


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    return float(values.mean()), float(values.std() / math.sqrt(values.numel()))


def score(run: Path, data_dir: str, examples: int, k: int, batch: int, seed: int) -> dict[str, torch.Tensor]:
    """Per-image IS log p(x) and Pareto k̂ of `run`'s best model on its test split."""
    model = vaelab.load(run)
    config = read_run_config(run)
    test = vaelab.load_dataset(config["data"]["dataset"], data_dir=data_dir)["test"]
    x_all = test.batch(model, None if examples == 0 else examples, seed=seed)
    torch.manual_seed(seed)
    log_px, k_hat = [], []
    start = time.perf_counter()
    for first in range(0, x_all.shape[0], batch):
        estimate = importance_sampled_log_marginal(model, x_all[first:first + batch], k=k)
        log_px.append(estimate.log_px)
        k_hat.append(estimate.pareto_k)
        done = first + batch
        print(f"  {run.name}: {min(done, x_all.shape[0])}/{x_all.shape[0]} images, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return {"log_px": torch.cat(log_px), "k_hat": torch.cat(k_hat),
            "seconds": torch.tensor(time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, type=Path)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--examples", type=int, default=0, help="test images (0 = all)")
    parser.add_argument("-k", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=Path("runs/paired"))
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    scores = []
    for run in args.runs:
        kept = args.keep / f"{run.name}-k{args.k}-n{args.examples}-s{args.seed}.pt"
        if not kept.exists():
            torch.save(score(run, args.data_dir, args.examples, args.k, args.batch, args.seed), kept)
        scores.append(torch.load(kept))
    print(f"\n| run | images | test log p(x), IS k = {args.k:,} | Pareto k̂ > 0.7 | minutes |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for run, s in zip(args.runs, scores, strict=True):
        mean, se = _mean_se(s["log_px"])
        share = float((s["k_hat"] > TRUST_THRESHOLD).float().mean())
        print(f"| {run.name} | {s['log_px'].numel():,} | {mean:.2f} ± {se:.2f} | {share:.1%} | "
              f"{float(s['seconds']) / 60:.1f} |")
    difference = scores[1]["log_px"] - scores[0]["log_px"]
    mean, se = _mean_se(difference)
    print(f"\n{args.runs[1].name} − {args.runs[0].name}: {mean:+.2f} ± {se:.2f} nats per image "
          f"(paired; better on {float((difference > 0).float().mean()):.0%} of the images)")


if __name__ == "__main__":
    main()
