"""Learning curve of a bench/likelihood.py run: train −ELBO and learning rate against minutes.

    python bench/plot_curve.py bench/results/vae1-cosine-120.json --out bench/results/vae1-cosine-120.png
    python bench/plot_curve.py bench/results/runs/vae-1-seed0-cosine-.../metrics.jsonl --out curve.png

Reads the "curve" a results JSON records (or a run folder's metrics.jsonl); with a results JSON
the test −log p(x) and −ELBO it measured are marked at the end of training. Lines mark the
paper's −log p(x) and an optional target (`--target`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path: Path) -> tuple[list[dict], dict | None]:
    """The per-epoch records, and the result they belong to (None for a metrics.jsonl)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()], None
    result = json.loads(path.read_text())["results"][0]
    return result["curve"], result


def plot(records: list[dict], result: dict | None, out: Path, paper: float | None,
         target: float | None, title: str) -> Path:
    minutes = [r["seconds"] / 60 for r in records]
    neg_bound = [-r["train_bound"] for r in records]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    ax.plot(minutes, neg_bound, color="C0", lw=1.2, label="train −ELBO (epoch mean)")
    if paper is not None:
        ax.axhline(paper, color="C2", ls=":", lw=1, label=f"paper test −log p(x) {paper:.2f}")
    if target is not None:
        ax.axhline(target, color="C3", ls=":", lw=1, label=f"target {target:.2f}")
    if result is not None:
        end = minutes[-1]
        ax.errorbar([end], [result["nll"]], yerr=[result["nll_stderr"]], fmt="o", color="C1",
                    ms=4, label=f"test −log p(x), k=5,000: {result['nll']:.2f}")
        ax.plot([end], [result["neg_elbo"]], "s", color="C4", ms=4,
                label=f"test −ELBO: {result['neg_elbo']:.2f}")
    low = min(neg_bound + ([result["nll"]] if result else []) + ([paper] if paper else []))
    ax.set_ylim(low - 1.5, low + 20)
    ax.set(xlabel="training minutes", ylabel="nats per image", title=title)
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    twin.plot(minutes, [r["learning_rate"] for r in records], color="0.5", ls="--", lw=1)
    twin.set_ylim(0, 1.05 * max(r["learning_rate"] for r in records))
    twin.set_ylabel("learning rate (dashed)", color="0.4")
    twin.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="results JSON of bench/likelihood.py or a metrics.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--paper", type=float, default=86.76, help="published −log p(x) (0 = none)")
    parser.add_argument("--target", type=float, default=87.5, help="target −log p(x) (0 = none)")
    parser.add_argument("--title", default="vae-1 (Burda et al. 2016), cosine schedule, 1 CPU thread")
    args = parser.parse_args()
    records, result = load(args.source)
    path = plot(records, result, args.out, args.paper or None, args.target or None, args.title)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, {len(records)} epochs)")


if __name__ == "__main__":
    main()
