"""A linear-Gaussian latent model (probabilistic PCA) whose log p(x) has a closed form.

p(z) = Normal(0, I), p(x | z) = Normal(W z + b, σ² I)  =>  p(x) = Normal(b, W Wᵀ + σ² I).
The exact posterior is Normal(M⁻¹ Wᵀ (x − b), σ² M⁻¹) with M = Wᵀ W + σ² I. The guide is a
linear map with a diagonal covariance, so it is close to, but not exactly, the posterior —
which makes the ELBO < IWAE_k < log p(x) ordering visible. It is the ground truth the
estimators are tested against (Tipping & Bishop 1999).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from vaelab.models.base import SingleLatentModel


class LinearGaussianModel(SingleLatentModel):
    """PPCA with an amortized diagonal-Gaussian guide; `exact_log_marginal` gives the truth."""

    def __init__(self, data_dim: int, latent_dim: int, noise_scale: float = 0.5) -> None:
        super().__init__()
        if not noise_scale > 0:
            raise ValueError(f"noise_scale must be > 0, got {noise_scale}")
        self.latent_dim = latent_dim
        self.data_shape = (data_dim,)
        self.data_kind = "unit"
        self.weight = nn.Parameter(torch.randn(data_dim, latent_dim) / latent_dim**0.5)
        self.bias = nn.Parameter(torch.zeros(data_dim))
        self.log_noise = nn.Parameter(torch.tensor(float(noise_scale)).log())
        self.guide_weight = nn.Parameter(torch.zeros(latent_dim, data_dim))
        self.guide_bias = nn.Parameter(torch.zeros(latent_dim))
        self.guide_log_scale = nn.Parameter(torch.zeros(latent_dim))
        self.register_buffer("zero", torch.zeros(latent_dim), persistent=False)

    def prior(self) -> Distribution:
        return Independent(Normal(self.zero, torch.ones_like(self.zero)), 1)

    def posterior(self, x: torch.Tensor) -> Distribution:
        loc = (x - self.bias) @ self.guide_weight.T + self.guide_bias
        scale = self.guide_log_scale.exp().expand_as(loc)
        return Independent(Normal(loc, scale), 1)

    def likelihood(self, z: torch.Tensor) -> Distribution:
        loc = z @ self.weight.T + self.bias
        return Independent(Normal(loc, self.log_noise.exp().expand_as(loc)), 1)

    def _posterior_precision_factor(self) -> torch.Tensor:
        noise_var = self.log_noise.exp() ** 2
        eye = torch.eye(self.latent_dim, dtype=self.weight.dtype, device=self.weight.device)
        return self.weight.T @ self.weight + noise_var * eye

    def exact_log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in closed form, per example."""
        noise_var = self.log_noise.exp() ** 2
        eye = torch.eye(self.data_shape[0], dtype=self.weight.dtype, device=self.weight.device)
        cov = self.weight @ self.weight.T + noise_var * eye
        return MultivariateNormal(self.bias, covariance_matrix=cov).log_prob(x)

    def exact_posterior(self, x: torch.Tensor) -> MultivariateNormal:
        """p(z | x) in closed form (full covariance)."""
        m = self._posterior_precision_factor()
        m_inv = torch.linalg.inv(m)
        loc = (x - self.bias) @ (m_inv @ self.weight.T).T
        return MultivariateNormal(loc, covariance_matrix=self.log_noise.exp() ** 2 * m_inv)

    @torch.no_grad()
    def set_guide_to_posterior(self, scale_factor: float = 1.0) -> None:
        """Guide = exact posterior mean map with its marginal variances (times `scale_factor`²).

        With a diagonal posterior (orthogonal W columns) and factor 1 the guide is exact.
        """
        m_inv = torch.linalg.inv(self._posterior_precision_factor())
        self.guide_weight.copy_(m_inv @ self.weight.T)
        self.guide_bias.zero_()
        var = self.log_noise.exp() ** 2 * torch.diagonal(m_inv)
        self.guide_log_scale.copy_(0.5 * var.log() + torch.log(torch.tensor(scale_factor)))
