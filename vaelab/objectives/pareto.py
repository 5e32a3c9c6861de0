"""Pareto k̂ of importance weights: can an importance-sampled log p(x) be trusted?

An importance-sampled estimate log (1/k) Σ w_i is only as good as the right tail of the weights
w_i = p(x, z_i) / q(z_i | x). Fitting a generalized Pareto distribution to the largest
M = ⌈min(k/5, 3√k)⌉ weights gives its shape k̂ (Vehtari et al., "Pareto smoothed importance
sampling", JMLR 2024): the weights have finite moments of order < 1/k̂, so

- k̂ < 0.5: finite variance, the estimate converges at the usual Monte-Carlo rate;
- 0.5 ≤ k̂ < 0.7: infinite variance but a usable estimate for the k used;
- k̂ ≥ 0.7: the estimate is unreliable — too far in the tail for any practical k: q(z | x)
  misses mass of the posterior, and log p(x) is likely underestimated by an unknown amount.

The shape is estimated as PSIS does (ArviZ's `psislw`, the `loo` R package): the exceedances of
the M largest weights over the (M+1)-th, fitted by Zhang & Stephens' (2009) empirical-Bayes
estimator, with the weakly informative prior that pulls k̂ towards 0.5 with the weight of 10
observations. Only the top M + 1 log-weights per example are needed, so `TopLogWeights` keeps
them while the weights stream by in chunks and memory stays bounded for k in the thousands.
"""

from __future__ import annotations

import math

import torch

#: k̂ above this: do not trust the importance-sampled estimate (Vehtari et al. 2024)
TRUST_THRESHOLD = 0.7
#: the fewest tail weights the generalized Pareto fit accepts (ArviZ: more than 4)
MIN_TAIL = 5


def tail_size(k: int) -> int:
    """M = ⌈min(k/5, 3√k)⌉: how many of k weights form the tail (PSIS with relative efficiency 1)."""
    if k < 1:
        raise ValueError(f"number of samples k must be >= 1, got {k}")
    return int(math.ceil(min(k / 5.0, 3.0 * math.sqrt(k))))


def fewest_samples() -> int:
    """The smallest k whose tail holds MIN_TAIL weights (21)."""
    k = 1
    while tail_size(k) < MIN_TAIL:
        k += 1
    return k


class TopLogWeights:
    """The largest M + 1 log-weights of each example seen so far, for k weights in all.

    `add(log_w)` takes a chunk [c, B]; `pareto_k()` fits the tail once all k have been added.
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self.keep = tail_size(k) + 1
        self.top: torch.Tensor | None = None

    def add(self, log_w: torch.Tensor) -> None:
        joined = log_w if self.top is None else torch.cat([self.top, log_w])
        self.top = joined.topk(min(self.keep, joined.shape[0]), dim=0).values

    def pareto_k(self) -> torch.Tensor:
        """k̂ per example [B] (NaN when k is too small for a tail of MIN_TAIL weights)."""
        if self.top is None:
            raise ValueError("no log-weights were added")
        return pareto_k_from_top(self.top, self.k)


def pareto_k_from_top(top: torch.Tensor, k: int) -> torch.Tensor:
    """k̂ per example from its largest log-weights `top` [≥ M + 1, B] out of k in all."""
    m = tail_size(k)
    batch = top.shape[1:]
    if m < MIN_TAIL or top.shape[0] < m + 1:
        return torch.full(batch, math.nan, dtype=torch.float64, device=top.device)
    ordered = top.double().topk(m + 1, dim=0).values.flip(0).reshape(m + 1, -1).T  # [B, M+1] ascending
    shifted = ordered - ordered[:, -1:]                                             # largest at 0
    cutoff = shifted[:, :1].clamp_min(math.log(torch.finfo(torch.float64).tiny))
    exceedances = (shifted[:, 1:].exp() - cutoff.exp()).clamp_min(0.0)                # [B, M], ascending
    return generalized_pareto_shape(exceedances).reshape(batch)


def generalized_pareto_shape(exceedances: torch.Tensor) -> torch.Tensor:
    """Zhang & Stephens' (2009) estimate of the generalized Pareto shape, per row of `exceedances`
    [B, n] (positive, sorted ascending), with PSIS's prior towards 0.5 (ArviZ `_gpdfit`).

    A row whose exceedances are all 0 (equal weights: nothing heavy in the tail) gets −∞.
    """
    x = exceedances.double()
    n = x.shape[-1]
    m = 30 + int(n**0.5)
    j = torch.arange(1, m + 1, dtype=torch.float64, device=x.device)
    quartile = x[:, int(n / 4 + 0.5) - 1: int(n / 4 + 0.5)]
    constant = x[:, -1] <= 0
    largest = torch.where(constant, 1.0, x[:, -1])[:, None]
    quartile = torch.where(quartile > 0, quartile, largest)
    b = (1.0 - torch.sqrt(m / (j - 0.5))) / (3.0 * quartile) + 1.0 / largest     # [B, m] candidate θ
    k_of_b = torch.log1p(-b[:, :, None] * x[:, None, :]).mean(-1)                # [B, m]
    profile = n * (torch.log(-(b / k_of_b)) - k_of_b - 1.0)                       # log-likelihood
    weights = torch.softmax(profile, dim=-1)
    weights = torch.where(weights >= 10 * torch.finfo(torch.float64).eps, weights, 0.0)
    weights = weights / weights.sum(-1, keepdim=True)
    b_post = (b * weights).sum(-1, keepdim=True)
    shape = torch.log1p(-b_post * x).mean(-1)
    shape = (n * shape + 10 * 0.5) / (n + 10)
    return torch.where(constant, -math.inf, shape)


def pareto_k(log_weights: torch.Tensor) -> torch.Tensor:
    """k̂ of all k log-weights at once, [k, *batch] → [*batch] (a convenience; estimators stream)."""
    k = log_weights.shape[0]
    keep = min(k, tail_size(k) + 1)
    return pareto_k_from_top(log_weights.topk(keep, dim=0).values, k)


__all__ = ["MIN_TAIL", "TRUST_THRESHOLD", "TopLogWeights", "fewest_samples",
           "generalized_pareto_shape", "pareto_k", "pareto_k_from_top", "tail_size"]
