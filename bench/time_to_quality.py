"""Time to quality: several bench/likelihood.py runs on one figure and in one table.

Each run's training bound (the epoch mean, in nats) against its training minutes, with the test
−log p(x) it measured at the end marked beside it, and a table of the bound at fixed minutes with
the final test figures — how much likelihood a CPU-minute buys each model (issue 26's benchmark).
The figure leaves out the epochs whose mean bound is a spike (`calm`); the table reads them all.

    python bench/time_to_quality.py bench/results/deep-120-iwae5.json bench/results/deep-120-bf16-wd.json \\
        bench/results/deep-120.json bench/results/vae1-cosine-120.json \\
        bench/results/iwae50-2-cosine-105.json --out bench/results/time-to-quality.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: nats shown above the best test figure: the part of the curves worth reading
SPAN = 25.0
#: the minutes at which the table reads each curve
MARKS = (5, 10, 20, 40, 60, 90, 120)


def label_of(result: dict) -> str:
    """The row's name with what set this run apart (precision, objective, free bits when the
    results recorded them, weight decay, dropout, normalization)."""
    extras = [result["precision"]] if result.get("precision", "fp32") != "fp32" else []
    if result.get("objective", "elbo") != "elbo":
        extras.append(f"{result['objective']} k={result.get('samples')}")
    if result.get("free_bits") is not None:
        extras.append(f"free bits {result['free_bits']:g}")
    if result.get("weight_decay"):
        extras.append(f"wd {result['weight_decay']:g}")
    if result.get("dropout"):
        extras.append(f"dropout {result['dropout']:g}")
    if result.get("normalization", "none") != "none":
        extras.append(f"{result['normalization']} norm")
    return result["row"] + (f" ({', '.join(extras)})" if extras else "")


def bound_at(curve: list[dict], minutes: float) -> float | None:
    """−(training bound) of the last epoch that ended by `minutes`; None past the run's end."""
    if curve[-1]["seconds"] < 0.98 * minutes * 60:
        return None
    done = [r for r in curve if r["seconds"] <= minutes * 60]
    return -done[-1]["train_bound"] if done else None


def table(results: list[dict]) -> str:
    head = "| run | " + " | ".join(f"{m} min" for m in MARKS) + " | epochs | test −log p(x) | test −ELBO |"
    lines = [head, "| --- |" + " ---: |" * (len(MARKS) + 3)]
    for r in results:
        cells = [bound_at(r["curve"], m) for m in MARKS]
        shown = " | ".join("" if c is None else f"{c:.2f}" for c in cells)
        lines.append(f"| {label_of(r)} | {shown} | {r['epochs']:,} | {r['nll']:.2f} ± "
                     f"{r['nll_stderr']:.2f} (k = {r.get('eval_k', '?')}) | {r['neg_elbo']:.2f} |")
    return "\n".join(lines)


def calm(curve: list[dict]) -> list[dict]:
    """The epochs whose mean bound is not a spike: an epoch holding one step with an astronomical
    KL (skipped by --grad-skip) has a mean of −10⁷ nats or worse, which would hide the curve."""
    kept, best = [], float("inf")
    for c in curve:
        if -c["train_bound"] <= 1.5 * best:
            kept.append(c)
        best = min(best, -c["train_bound"])
    return kept


def plot(results: list[dict], out: Path, target: float | None) -> Path:
    fig, ax = plt.subplots(figsize=(10.0, 4.2), dpi=110)
    for i, r in enumerate(results):
        curve = calm(r["curve"])
        minutes = [c["seconds"] / 60 for c in curve]
        ax.plot(minutes, [-c["train_bound"] for c in curve], color=f"C{i}", lw=1.1,
                label=f"{label_of(r)}: train bound")
        ax.errorbar([minutes[-1]], [r["nll"]], yerr=[r["nll_stderr"]], fmt="o", color=f"C{i}", ms=4,
                    label=f"{label_of(r)}: test −log p(x) {r['nll']:.2f}")
    if target is not None:
        ax.axhline(target, color="0.4", ls=":", lw=1, label=f"target {target:.2f}")
    low = min([r["nll"] for r in results] + ([target] if target is not None else []))
    ax.set_ylim(low - 1.5, low + SPAN)  # the first minutes sit tens of nats above: cut off
    ax.set_xlabel("training minutes (one CPU thread)")
    ax.set_ylabel("nats (lower is better)")
    ax.set_title("Time to quality on dynamically binarized MNIST")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside, not over, the curves
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="bench/likelihood.py --out files")
    parser.add_argument("--out", type=Path, default=Path("time-to-quality.png"))
    parser.add_argument("--target", type=float, default=85.0, help="a line at this −log p(x)")
    args = parser.parse_args()
    results = []
    for path in args.results:
        saved = json.loads(path.read_text())
        results += [{**r, "eval_k": saved.get("eval_k")} for r in saved["results"]]
    print(table(results))
    print(f"figure: {plot(results, args.out, args.target)}")


if __name__ == "__main__":
    main()
