"""Can this log p(x) be trusted? The Pareto k̂ of importance weights, summarised for a reader.

`pareto_summary` turns the per-example k̂ of an importance-sampled estimate (see
`vaelab.objectives.pareto`) into what an evaluation keeps — the threshold, the share and number
of examples above it, the median and largest k̂, each example's k̂ — and `trust_warning` into the
one line printed, shown in the report and in the explorer when the estimate should not be trusted.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from vaelab.objectives.pareto import TRUST_THRESHOLD, fewest_samples, tail_size


def pareto_summary(k_hat: torch.Tensor, k: int) -> dict[str, Any]:
    """{"threshold", "tail", "examples", "above", "share_above", "median", "max", "per_example"} of
    the per-example k̂ [N] of an estimate with k samples (k̂ rounded to 3 decimals; None: −∞, all
    weights equal); with too few samples for a tail, {"threshold", "tail", "note"}."""
    k_hat = k_hat.detach().double().flatten().cpu()
    summary: dict[str, Any] = {"threshold": TRUST_THRESHOLD, "tail": tail_size(k)}
    if k_hat.numel() == 0 or torch.isnan(k_hat).all():
        summary["note"] = (f"k = {k} importance samples are too few to fit the weights' tail "
                           f"(k̂ needs k >= {fewest_samples()})")
        return summary
    above = int((k_hat > TRUST_THRESHOLD).sum())
    summary.update({
        "examples": int(k_hat.numel()),
        "above": above,
        "share_above": above / k_hat.numel(),
        "median": _finite_or_none(round(float(k_hat.median()), 3)),
        "max": _finite_or_none(round(float(k_hat.max()), 3)),
        "per_example": [_finite_or_none(round(float(v), 3)) for v in k_hat],
    })
    return summary


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def trust_warning(summary: dict[str, Any] | None, what: str = "test images") -> str | None:
    """One line when some of the estimates should not be trusted (k̂ above the threshold); None
    when every k̂ is below it, or when there is no k̂ (an older evaluation, too few samples)."""
    if not summary or not summary.get("above"):
        return None
    threshold = summary.get("threshold", TRUST_THRESHOLD)
    return (f"warning: Pareto k̂ > {threshold:g} for {summary['above']} of {summary['examples']} "
            f"{what} ({100 * summary['share_above']:.1f} %, largest {summary['max']:.2f}): their "
            "importance-sampled log p(x) should not be trusted (q(z|x) misses posterior mass, so "
            "log p(x) is likely underestimated; AIS or `vaelab evaluate RUN --bdmc N` checks it)")


def trust_text(summary: dict[str, Any] | None) -> str | None:
    """"Pareto k̂: median 0.41, max 0.83; 2.0 % of examples above 0.7" (None without a k̂)."""
    if not summary or "examples" not in summary:
        return None
    median, largest = summary.get("median"), summary.get("max")
    shown = "median {}, max {}".format(*("−∞" if v is None else f"{v:.2f}" for v in (median, largest)))
    return (f"Pareto k̂: {shown}; {100 * summary['share_above']:.1f} % of examples above "
            f"{summary['threshold']:g}")


def single_k_hat_warning(k_hat: float, k: int) -> str | None:
    """The explorer's line for one image scored with k samples."""
    if math.isnan(k_hat):
        return f"k = {k} is too few samples for k̂ (k >= {fewest_samples()})"
    if k_hat > TRUST_THRESHOLD:
        return (f"k̂ = {k_hat:.2f} > {TRUST_THRESHOLD:g}: this log p(x) should not be trusted "
                "(q(z|x) misses posterior mass; it is likely an underestimate)")
    return None


__all__ = ["pareto_summary", "single_k_hat_warning", "trust_text", "trust_warning"]
