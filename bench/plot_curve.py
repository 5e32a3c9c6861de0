"""Learning curve of a benchmark run against training minutes.

    python bench/plot_curve.py bench/results/vae1-cosine-120.json --out bench/results/vae1-cosine-120.png
    python bench/plot_curve.py bench/results/runs/vae-1-seed0-cosine-.../metrics.jsonl --out curve.png
    python bench/plot_curve.py bench/results/semisupervised-m2-120min-seed0.json --out m2.png

A bench/likelihood.py run: train −ELBO and learning rate, with the test −log p(x) and −ELBO it
measured marked at the end and lines at the paper's −log p(x) and an optional `--target`. A
bench/semisupervised.py run (its first result): M2's bounds beside the validation error, with the
measured test error and the paper's. A run folder's metrics.jsonl draws the same without the
measured figures (semi-supervised when its epochs record a labelled error).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: per kind of run: the published figure, the target and the title drawn by default
DEFAULTS = {
    "likelihood": (86.76, 87.5, "vae-1 (Burda et al. 2016), cosine schedule, 1 CPU thread"),
    "semisupervised": (11.97, None, "M2, 100 labels, 1 CPU thread"),
}
#: per bench/likelihood.py row: the published figure, the issue's target, the name in the title
#: and the training bound drawn
ROWS = {
    "vae-1": (86.76, 87.5, "vae-1 (Burda et al. 2016)", "ELBO"),
    "iwae50-2": (82.90, 85.0, "iwae50-2 (Burda et al. 2016)", "IWAE k=50 bound"),
    "hvamp-iwae50-2": (83.19, None, "iwae50-2 + VampPrior (Tomczak & Welling 2018)",
                       "IWAE k=50 bound"),
}


def load(path: Path) -> tuple[list[dict], dict | None, str]:
    """The per-epoch records, the result they belong to (None for a metrics.jsonl) and the kind
    of run ("likelihood" or "semisupervised")."""
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        semi = any("train_labelled_error" in r for r in records)
        return records, None, "semisupervised" if semi else "likelihood"
    saved = json.loads(path.read_text())
    if isinstance(saved, list):  # bench/semisupervised.py writes a list of results
        return saved[0]["curve"], saved[0], "semisupervised"
    return saved["results"][0]["curve"], saved["results"][0], "likelihood"


def defaults(kind: str, result: dict | None) -> tuple[float | None, float | None, str]:
    """The published figure, the target and the title for a run of this kind (and row)."""
    if kind == "likelihood" and result is not None and result.get("row") in ROWS:
        paper, target, name, _ = ROWS[result["row"]]
        return paper, target, f"{name}, {result.get('schedule', 'burda')} schedule"
    if kind == "semisupervised" and result is not None and result.get("model") == "m1m2":
        return 3.33, 5.0, "M1+M2, 100 labels, 1 CPU thread (bounds of M1's features)"
    return DEFAULTS[kind]


def plot(records: list[dict], result: dict | None, out: Path, paper: float | None,
         target: float | None, title: str) -> Path:
    minutes = [r["seconds"] / 60 for r in records]
    neg_bound = [-r["train_bound"] for r in records]
    bound = ROWS.get((result or {}).get("row"), ROWS["vae-1"])[3]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    ax.plot(minutes, neg_bound, color="C0", lw=1.2, label=f"train −{bound} (epoch mean)")
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
    high = max([low + 20, neg_bound[len(neg_bound) // 5] + 1]
               + ([result["neg_elbo"] + 1.5] if result else []))  # a short run's curve and ELBO too
    ax.set_ylim(low - 1.5, high)
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


def plot_semisupervised(records: list[dict], result: dict | None, out: Path, paper: float | None,
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
    parser.add_argument("source", type=Path, help="results JSON of bench/likelihood.py or a metrics.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--paper", type=float,
                        help="published figure, −log p(x) or test error %% (0 = none; default by kind)")
    parser.add_argument("--target", type=float, help="target figure (0 = none; default by kind)")
    parser.add_argument("--title", help="(default by kind)")
    args = parser.parse_args()
    records, result, kind = load(args.source)
    paper, target, title = defaults(kind, result)
    paper = paper if args.paper is None else args.paper or None
    target = target if args.target is None else args.target or None
    draw = plot_semisupervised if kind == "semisupervised" else plot
    path = draw(records, result, args.out, paper, target, args.title or title)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, {len(records)} epochs)")


if __name__ == "__main__":
    main()
