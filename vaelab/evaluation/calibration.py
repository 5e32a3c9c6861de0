"""How far a classifier's probabilities can be trusted: expected calibration error, reliability
bins and temperature scaling (Guo et al. 2017, "On calibration of modern neural networks").

A prediction's confidence is its top probability. The M = 15 equal-width bins are
B_m = ((m − 1)/M, m/M] (a confidence of 0 joins the first); for each, acc(B_m) is the share of
its predictions that are right and conf(B_m) their mean confidence, and

    ECE = Σ_m |B_m| / N · |acc(B_m) − conf(B_m)|.

Temperature scaling divides the log-probabilities by one T > 0, fitted to minimise the negative
log-likelihood of held-out labels; the most probable class, hence the error, is unchanged.
Bin sums (`bin_sums`) add across processes, so distributed validation sums them first.
"""

from __future__ import annotations

import math

import torch

#: equal-width confidence bins of the ECE and the reliability diagram
BINS = 15
#: the search range of T (temperature scaling)
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def bin_sums(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> torch.Tensor:
    """[3, bins] float64: per bin the number of predictions, the sum of their confidences and
    the number that are right (probs [N, C], integer labels [N])."""
    confidence, predicted = probs.max(-1)
    index = (confidence.double() * bins).ceil().long().clamp(1, bins) - 1
    sums = torch.zeros(3, bins, dtype=torch.float64, device=probs.device)
    sums[0].index_add_(0, index, torch.ones_like(confidence, dtype=torch.float64))
    sums[1].index_add_(0, index, confidence.double())
    sums[2].index_add_(0, index, (predicted == labels.to(predicted.device)).double())
    return sums


def ece_of(sums: torch.Tensor) -> float:
    """The expected calibration error from `bin_sums` (0 for no predictions)."""
    total = float(sums[0].sum())
    if total == 0:
        return 0.0
    return float((sums[1] - sums[2]).abs().sum()) / total


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> float:
    """ECE of probs [N, C] against integer labels [N] over `bins` equal-width bins."""
    return ece_of(bin_sums(probs, labels, bins))


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> dict[str, object]:
    """ECE, mean confidence, accuracy and the reliability diagram's bins (lower, upper, count,
    mean confidence and accuracy; None for an empty bin)."""
    sums = bin_sums(probs, labels, bins).cpu()
    rows = []
    for m in range(bins):
        count = int(sums[0, m])
        rows.append({"lower": m / bins, "upper": (m + 1) / bins, "count": count,
                     "confidence": float(sums[1, m]) / count if count else None,
                     "accuracy": float(sums[2, m]) / count if count else None})
    total = max(1.0, float(sums[0].sum()))
    return {"ece": ece_of(sums), "bins": rows, "mean_confidence": float(sums[1].sum()) / total,
            "accuracy": float(sums[2].sum()) / total}


def apply_temperature(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(log p / T): the probabilities tempered by T (T > 1 softens, T < 1 sharpens)."""
    return torch.softmax(probs.clamp_min(1e-30).log() / temperature, -1)


def temperature_nll(probs: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    """Mean negative log-likelihood of `labels` under the tempered probabilities."""
    log_p = torch.log_softmax(probs.double().clamp_min(1e-300).log() / temperature, -1)
    return float(-log_p.gather(1, labels.long().to(probs.device)[:, None]).mean())


def fit_temperature(probs: torch.Tensor, labels: torch.Tensor, iterations: int = 80) -> float:
    """The T in [MIN_TEMPERATURE, MAX_TEMPERATURE] minimising the tempered NLL of `labels`:
    a golden-section search on log T (the NLL is convex in 1/T, so unimodal in log T)."""
    if labels.numel() == 0:
        raise ValueError("temperature scaling needs labelled examples")
    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = (temperature_nll(probs, labels, math.exp(t)) for t in (a, b))
    for _ in range(iterations):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = temperature_nll(probs, labels, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = temperature_nll(probs, labels, math.exp(b))
    return math.exp((low + high) / 2)


__all__ = ["BINS", "apply_temperature", "bin_sums", "ece_of", "expected_calibration_error",
           "fit_temperature", "reliability", "temperature_nll"]
