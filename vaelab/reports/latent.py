"""How a model uses its latent space: posterior means, KL per dimension, active units, PCA.

Active units follow Burda et al. (2016, "Importance Weighted Autoencoders", §5.2): dimension d
is active when A_d = Cov_x(E_q[z_d | x]) > 0.01, i.e. its posterior mean moves with the input.
A dimension whose posterior collapses onto the prior carries no information about x.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.distributions import Independent, kl_divergence

from vaelab.models.base import LatentVariableModel

ACTIVITY_THRESHOLD = 0.01


def is_single_latent(model: LatentVariableModel) -> bool:
    """True for models with one latent vector and distributions p(z), q(z | x) (a VAE, PPCA);
    the per-dimension statistics and pictures need them, a hierarchical model has neither."""
    return (isinstance(getattr(model, "latent_dim", None), int)
            and callable(getattr(model, "prior", None))
            and callable(getattr(model, "posterior", None)))


def encode_mean(model: LatentVariableModel, x: torch.Tensor) -> Any:
    """The guide's representative latent for x: a tensor, or a tuple of one per layer."""
    encode = getattr(model, "encode_mean", None)
    return encode(x) if callable(encode) else model.posterior(x).mean


def lerp(a: Any, b: Any, t: torch.Tensor) -> Any:
    """(1 − t) a + t b for latents that are tensors [B, d] or tuples of them; t has shape [T]:
    the result has shape [B * T, d] (each row of a followed by its T points)."""
    if isinstance(a, tuple):
        return tuple(lerp(u, v, t) for u, v in zip(a, b, strict=True))
    t = t.view(1, -1, 1)
    return (a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t).flatten(0, 1)


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


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points [N, D] (D >= 2) on their first two principal components.

    Returns the projection [N, 2] and the fraction of variance each component explains.
    """
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"PCA to 2-D needs points [N, D >= 2], got shape {points.shape}")
    centred = points - points.mean(0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    explained = variance[:2] / max(float(variance.sum()), 1e-30)
    return centred @ vt[:2].T, explained
