"""Numbers as a report shows them: estimates with standard errors, bits/dim, durations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DASH = "—"


def estimate_text(entry: Mapping[str, Any] | None, digits: int = 2) -> str:
    """"mean ± stderr" from a saved Estimate ({"mean", "stderr", "n"}), or a dash."""
    if not entry or entry.get("mean") is None:
        return DASH
    stderr = entry.get("stderr")
    if stderr is None or not math.isfinite(float(stderr)):
        return f"{float(entry['mean']):.{digits}f}"
    return f"{float(entry['mean']):.{digits}f} ± {float(stderr):.{digits}f}"


def bits_per_dim(nats: float, dimensions: int) -> float:
    """A log-likelihood in nats per example as bits per dimension (lower is better)."""
    return -nats / (dimensions * math.log(2.0))


def duration_text(seconds: float | None) -> str:
    """Seconds as "12.3 s", "4 min 05 s" or "2 h 03 min"."""
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
