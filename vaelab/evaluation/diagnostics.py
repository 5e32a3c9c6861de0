"""How a model uses its latent space: active units, KL per dimension.

Active units follow Burda et al. (2016, "Importance Weighted Autoencoders", §5.2): dimension d
is active when A_d = Cov_x(E_q[z_d | x]) > 0.01, i.e. its posterior mean moves with the input.
A dimension whose posterior collapses onto the prior carries no information about x.
"""

from __future__ import annotations

import torch
from torch.distributions import Independent, kl_divergence

from vaelab.models.base import LatentVariableModel, SingleLatentModel

ACTIVITY_THRESHOLD = 0.01


def is_single_latent(model: LatentVariableModel) -> bool:
    """True for models with one latent vector and distributions p(z), q(z | x) (a VAE, PPCA);
    the per-dimension statistics and pictures need them, a hierarchical model has neither."""
    return isinstance(model, SingleLatentModel)


@torch.no_grad()
def posterior_means(model: LatentVariableModel, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """E_q[z | x] for each example of a single-latent model: [N, latent_dim]."""
    return torch.cat([model.posterior(x[i:i + batch_size]).mean
                      for i in range(0, x.shape[0], batch_size)])


def unit_activity(means: torch.Tensor) -> torch.Tensor:
    """A_d = Cov_x(E_q[z_d | x]): the variance across examples of each posterior-mean coordinate."""
    if means.dim() != 2 or means.shape[0] < 2:
        raise ValueError(f"need posterior means [N >= 2, D], got shape {tuple(means.shape)}")
    return means.double().var(0, unbiased=True).float()


def active_units(means: torch.Tensor, threshold: float = ACTIVITY_THRESHOLD) -> torch.Tensor:
    """Boolean mask [D] of the active dimensions (activity above `threshold`)."""
    return unit_activity(means) > threshold


@torch.no_grad()
def kl_per_dimension(model: LatentVariableModel, x: torch.Tensor,
                     batch_size: int = 500) -> torch.Tensor | None:
    """Mean over examples of KL(q(z_d | x) ‖ p(z_d)) for each d (nats), or None when q or p
    does not factorise over dimensions with a closed-form KL (then there is no per-d split)."""
    prior = model.prior()
    if not isinstance(prior, Independent) or prior.reinterpreted_batch_ndims != 1:
        return None
    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    for i in range(0, x.shape[0], batch_size):
        q = model.posterior(x[i:i + batch_size])
        if not isinstance(q, Independent) or q.reinterpreted_batch_ndims != 1:
            return None
        try:
            kl = kl_divergence(q.base_dist, prior.base_dist)
        except NotImplementedError:
            return None
        total += kl.double().sum(0).cpu()
    return (total / x.shape[0]).float()


@torch.no_grad()
def latent_diagnostics(model: LatentVariableModel, x: torch.Tensor,
                       batch_size: int = 500) -> dict[str, object]:
    """Active units per latent layer, and for a single latent the KL per dimension (nats)."""
    means = [model.encode_mean(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    layers = [torch.cat(parts) for parts in zip(*(m if isinstance(m, tuple) else (m,) for m in means),
                                                 strict=True)]
    result: dict[str, object] = {
        "activity_threshold": ACTIVITY_THRESHOLD,
        "active_units": [int(active_units(layer.flatten(1)).sum()) for layer in layers],
        "latent_dims": [int(layer.flatten(1).shape[1]) for layer in layers],
    }
    if isinstance(model, SingleLatentModel):
        kl = kl_per_dimension(model, x, batch_size)
        if kl is not None:
            result["kl_per_dimension"] = [round(float(v), 5) for v in kl]
    return result
