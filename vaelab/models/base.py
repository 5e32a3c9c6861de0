"""What every latent-variable model offers the objectives: p(z), q(z | x) and p(x | z)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn
from torch.distributions import Distribution


class LatentVariableModel(nn.Module, ABC):
    """p(x, z) = p(x | z) p(z) with an amortized guide q(z | x).

    Objectives (ELBO, IWAE, importance sampling) need only these three distributions, so any
    model that provides them — a VAE, a linear-Gaussian model — is trained and evaluated alike.
    """

    latent_dim: int
    data_shape: tuple[int, ...]
    data_kind: str

    @abstractmethod
    def prior(self) -> Distribution:
        """p(z), event shape [latent_dim]."""

    @abstractmethod
    def posterior(self, x: torch.Tensor) -> Distribution:
        """q(z | x): batch shape x's batch, event shape [latent_dim]."""

    @abstractmethod
    def likelihood(self, z: torch.Tensor) -> Distribution:
        """p(x | z): batch shape z's batch, event shape `data_shape`."""

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z]; defaults to the likelihood's mean."""
        return self.likelihood(z).mean

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images E[x | z] for n draws z ~ p(z) (seeded by `generator` when given)."""
        prior = self.prior()
        loc = prior.mean
        z = torch.randn((n, *loc.shape), generator=generator, device=loc.device)
        z = loc + z * prior.stddev
        return self.decode_mean(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """E[x | z] at the posterior mean z = E_q[z | x]."""
        return self.decode_mean(self.posterior(x).mean)
