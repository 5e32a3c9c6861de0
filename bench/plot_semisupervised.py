"""Learning curve of a semi-supervised run: M2's bounds and validation error against minutes.

    python bench/plot_semisupervised.py bench/results/semisupervised-m2-120min-seed0.json --out curve.png
    python bench/plot_semisupervised.py /work/semi/m2-seed0/metrics.jsonl --out curve.png

Reads the first result's "curve" of a bench/semisupervised.py results JSON (or a run folder's
metrics.jsonl); with a results JSON the measured test error is marked at the end of training.
Runs recorded before epochs kept a validation error show the bounds only.
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
    result = json.loads(path.read_text())[0]
    return result["curve"], result


def plot(records: list[dict], result: dict | None, out: Path, paper: float | None,
         target: float | None, title: str) -> Path:
    minutes = [r["seconds"] / 60 for r in records]
    fig, (ax_bound, ax_error) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=110)
    ax_bound.plot(minutes, [-r["train_bound"] for r in records], lw=1.2,
                  label="train −bound (unlabelled + labelled, epoch mean)")
    if any(r.get("valid_bound") is not None for r in records):
        scored = [(m, -r["valid_bound"]) for m, r in zip(minutes, records, strict=True)
                  if r.get("valid_bound") is not None]
        ax_bound.plot(*zip(*scored, strict=True), lw=1.2, label="validation −ELBO")
    ax_bound.set(xlabel="training minutes (M2)", ylabel="nats per image", title=title)
    ax_bound.legend(fontsize=8)
    ax_bound.grid(alpha=0.3)
    errors = [(m, 100 * r["valid_error"]) for m, r in zip(minutes, records, strict=True)
              if r.get("valid_error") is not None]
    if errors:
        ax_error.plot(*zip(*errors, strict=True), color="C1", lw=1.2, label="validation error")
    if paper is not None:
        ax_error.axhline(paper, color="C2", ls=":", lw=1, label=f"paper {paper:.2f} %")
    if target is not None:
        ax_error.axhline(target, color="C3", ls=":", lw=1, label=f"target {target:.2f} %")
    if result is not None:
        ax_error.plot([minutes[-1]], [100 * result["error"]], "o", color="C4",
                      label=f"test error {100 * result['error']:.2f} %")
    ax_error.set(xlabel="training minutes (M2)", ylabel="classification error (%)",
                 title="Classification")
    ax_error.set_ylim(0, None)
    ax_error.legend(fontsize=8)
    ax_error.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path,
                        help="results JSON of bench/semisupervised.py or a metrics.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--paper", type=float, default=11.97, help="published test error %% (0 = none)")
    parser.add_argument("--target", type=float, default=0.0, help="target test error %% (0 = none)")
    parser.add_argument("--title", default="M2, 100 labels, 1 CPU thread")
    args = parser.parse_args()
    records, result = load(args.source)
    path = plot(records, result, args.out, args.paper or None, args.target or None, args.title)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, {len(records)} epochs)")


if __name__ == "__main__":
    main()
