"""KL(q ‖ p): analytic where torch knows it, a Monte-Carlo estimate otherwise."""

from __future__ import annotations

import torch
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal, kl_divergence


def kl_or_estimate(q: Distribution, p: Distribution, z: torch.Tensor) -> torch.Tensor:
    """KL(q ‖ p) per example; with no closed form, log q(z) − log p(z) at the given samples z.

    `z` has shape [k, *batch, d] (or [*batch, d] for one sample); the Monte-Carlo estimate
    averages over the k samples. A full-covariance q against a diagonal Normal p has its closed
    form here (torch registers none for that pair); a flow q has none.
    """
    if isinstance(q, MultivariateNormal) and _diagonal_normal(p):
        return _full_against_diagonal(q, p.base_dist)  # type: ignore[attr-defined]
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        log_ratio = q.log_prob(z) - p.log_prob(z)
        return log_ratio.mean(0) if log_ratio.dim() > len(q.batch_shape) else log_ratio


def _diagonal_normal(p: Distribution) -> bool:
    return (isinstance(p, Independent) and p.reinterpreted_batch_ndims == 1
            and type(p.base_dist) is Normal)


def _full_against_diagonal(q: MultivariateNormal, p: Normal) -> torch.Tensor:
    """KL(Normal(μ, L Lᵀ) ‖ Normal(m, diag s²)) = Σ log s − Σ log L_ii
    + ½ [Σ_ij L_ij² / s_i² + Σ (μ − m)² / s² − d]."""
    scale = p.scale.expand(q.loc.shape)
    variance = scale**2
    trace = (q.scale_tril**2 / variance.unsqueeze(-1)).sum((-2, -1))
    mahalanobis = ((q.loc - p.loc) ** 2 / variance).sum(-1)
    log_det = scale.log().sum(-1) - torch.diagonal(q.scale_tril, dim1=-2, dim2=-1).log().sum(-1)
    return log_det + 0.5 * (trace + mahalanobis - q.loc.shape[-1])
