"""The importance-weighted bound (Burda et al. 2016).

IWAE_k = E[log (1/k) Σ_i p(x, z_i) / q(z_i | x)], z_i ~ q(z | x). IWAE_1 is the ELBO and the
bound rises monotonically towards log p(x) as k grows.
"""

from __future__ import annotations

import math

import torch

from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import ObjectiveValue


def log_importance_weights(model: LatentVariableModel, x: torch.Tensor, k: int) -> torch.Tensor:
    """log w_i = log p(x | z_i) + log p(z_i) − log q(z_i | x) for k reparameterised z_i: [k, B]."""
    q = model.posterior(x)
    z = q.rsample((k,))
    return model.likelihood(z).log_prob(x) + model.prior().log_prob(z) - q.log_prob(z)


def iwae_bound(model: LatentVariableModel, x: torch.Tensor, samples: int = 5) -> ObjectiveValue:
    """IWAE_k per example; as a loss its gradient is the importance-weighted ELBO gradient."""
    if samples < 1:
        raise ValueError(f"IWAE needs samples >= 1, got {samples}")
    log_w = log_importance_weights(model, x, samples)
    bound = torch.logsumexp(log_w, dim=0) - math.log(samples)
    weights = torch.softmax(log_w.detach(), dim=0)
    ess = 1.0 / (weights**2).sum(0)
    return ObjectiveValue(
        loss=-bound.mean(),
        bound=bound.detach(),
        terms={"log_weight": log_w.detach().mean(), "ess": ess.mean()},
    )
