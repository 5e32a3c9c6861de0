"""KL(q ‖ p): analytic where torch knows it, a Monte-Carlo estimate otherwise."""

from __future__ import annotations

import torch
from torch.distributions import Distribution, kl_divergence


def kl_or_estimate(q: Distribution, p: Distribution, z: torch.Tensor) -> torch.Tensor:
    """KL(q ‖ p) per example; with no closed form, log q(z) − log p(z) at the given samples z.

    `z` has shape [k, *batch, d] (or [*batch, d] for one sample); the Monte-Carlo estimate
    averages over the k samples.
    """
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        log_ratio = q.log_prob(z) - p.log_prob(z)
        return log_ratio.mean(0) if log_ratio.dim() > len(q.batch_shape) else log_ratio
