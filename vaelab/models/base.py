"""What every latent-variable model offers the objectives.

The general contract is the one importance sampling needs: draw latents from the guide with
their log q, and score log p(z) and log p(x | z). A single-latent model (VAE, linear-Gaussian)
states it as three distributions p(z), q(z | x), p(x | z) and gets the rest for free; a
hierarchical model implements the contract over a tuple of latent layers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.distributions.detach import detach_parameters

#: latents: one tensor [*sample, *batch, d], or a tuple of them (one per stochastic layer)
Latents = Any


class LatentVariableModel(nn.Module, ABC):
    """p(x, z) = p(x | z) p(z) with an amortized guide q(z | x).

    Objectives (ELBO, IWAE, importance sampling, AIS) use only these methods, so any model that
    provides them is trained and evaluated alike.
    """

    data_shape: tuple[int, ...]
    data_kind: str

    @abstractmethod
    def guide_sample(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[Latents, torch.Tensor]:
        """Reparameterised z ~ q(z | x) with log q(z | x), shape [*sample_shape, *batch].

        With `stop_guide_gradient`, log q is evaluated with the guide's parameters detached
        (gradients still flow through z): the "sticking the landing" / DReG estimators need it.
        """

    @abstractmethod
    def log_prior(self, z: Latents) -> torch.Tensor:
        """log p(z), summed over latent layers and dimensions."""

    @abstractmethod
    def log_likelihood(self, x: torch.Tensor, z: Latents) -> torch.Tensor:
        """log p(x | z)."""

    @abstractmethod
    def prior_sample(self, sample_shape: tuple[int, ...]) -> Latents:
        """z ~ p(z) with leading shape `sample_shape`."""

    @abstractmethod
    def decode_mean(self, z: Latents) -> torch.Tensor:
        """E[x | z]: the picture of a latent."""

    @abstractmethod
    def encode_mean(self, x: torch.Tensor) -> Latents:
        """A representative latent for x (the guide's mean), for reconstructions."""

    def guide_sample_groups(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[Latents, torch.Tensor]:
        """As `guide_sample`, with log q(z | x) split by latent group: [*sample_shape, *batch, G].
        One group (G = 1) unless a model splits its latents; per-group KL terms, free bits per
        group and KL balancing read it."""
        z, log_q = self.guide_sample(x, sample_shape, stop_guide_gradient)
        return z, log_q.unsqueeze(-1)

    def log_prior_groups(self, z: Latents) -> torch.Tensor:
        """log p(z) split by latent group as `guide_sample_groups` splits log q: [..., G]."""
        return self.log_prior(z).unsqueeze(-1)

    def analytic_kl_groups(self, z: Latents) -> torch.Tensor | None:
        """Per-group KL(q ‖ p) in closed form for latents the guide just drew ([..., G], each
        group's KL conditional on the draws above it), or None where there is none; the ELBO
        uses it in place of the Monte Carlo log q − log p."""
        return None

    def log_joint(self, x: torch.Tensor, z: Latents) -> torch.Tensor:
        """log p(x, z) = log p(x | z) + log p(z)."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images E[x | z] for n draws z ~ p(z); `generator` seeds them when given."""
        if generator is None:
            return self.decode_mean(self.prior_sample((n,)))
        state = torch.random.get_rng_state()
        cuda = generator.device.type == "cuda"
        cuda_state = torch.cuda.get_rng_state(generator.device) if cuda else None
        seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
        torch.manual_seed(seed)
        try:
            return self.decode_mean(self.prior_sample((n,)))
        finally:
            torch.random.set_rng_state(state)
            if cuda_state is not None:
                torch.cuda.set_rng_state(cuda_state, generator.device)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """E[x | z] at the guide's mean latent."""
        return self.decode_mean(self.encode_mean(x))

    def sample_observations(self, z: Latents) -> torch.Tensor:
        """x ~ p(x | z): data simulated from the model at known latents (for BDMC). Optional: a
        model that cannot draw from its p(x | z) says so."""
        raise NotImplementedError(f"{type(self).__name__} does not implement sample_observations(z) "
                                  "(x ~ p(x | z)), which simulating data from the model needs")


class SingleLatentModel(LatentVariableModel):
    """A model with one latent vector z: p(z), q(z | x) and p(x | z) as distributions."""

    latent_dim: int

    @abstractmethod
    def prior(self) -> Distribution:
        """p(z), event shape [latent_dim]."""

    @abstractmethod
    def posterior(self, x: torch.Tensor) -> Distribution:
        """q(z | x): batch shape x's batch, event shape [latent_dim]."""

    @abstractmethod
    def likelihood(self, z: torch.Tensor) -> Distribution:
        """p(x | z): batch shape z's batch, event shape `data_shape`."""

    def guide_sample(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.posterior(x)
        z = q.rsample(sample_shape)
        scorer = detach_parameters(q) if stop_guide_gradient else q
        return z, scorer.log_prob(z)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return self.prior().log_prob(z)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.likelihood(z).log_prob(x)

    def prior_sample(self, sample_shape: tuple[int, ...]) -> torch.Tensor:
        return self.prior().sample(sample_shape)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.likelihood(z).mean

    def sample_observations(self, z: torch.Tensor) -> torch.Tensor:
        return self.likelihood(z).sample()

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x).mean
