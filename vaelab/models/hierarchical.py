"""A VAE with a stack of stochastic layers (Burda et al. 2016, section 5).

Generative model, top-down:   p(z_L) ∏_{l<L} p(z_l | z_{l+1}) · p(x | z_1)
Guide, bottom-up:             q(z_1 | x) ∏_{l<L} q(z_{l+1} | z_l)
Each arrow is a ConditionalDistribution, Family(f_DNN(parent)); the latents are a tuple
(z_1, ..., z_L) and every objective that speaks the LatentVariableModel contract applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.distributions.detach import detach_parameters
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.latent_chain import LatentChainModel


class HierarchicalVAE(LatentChainModel):
    """L stochastic layers; `latent_dims` reads bottom (next to x) to top."""

    def __init__(
        self,
        prior: nn.Module,
        transitions: Sequence[ConditionalDistribution],
        decoder: ConditionalDistribution,
        encoders: Sequence[ConditionalDistribution],
    ) -> None:
        """`transitions[l]` is p(z_{l+1} | z_{l+2}) ... ordered bottom-up: transitions[0] is
        p(z_1 | z_2); `encoders[0]` is q(z_1 | x), `encoders[l]` is q(z_{l+1} | z_l)."""
        if len(encoders) != len(transitions) + 1:
            raise ValueError("need one encoder per latent layer and one transition per layer "
                             "below the top")
        super().__init__(prior, transitions, decoder)
        self.encoders = nn.ModuleList(encoders)
        self.latent_dims = tuple(e.event_shape[0] for e in encoders)

    def guide_sample_groups(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        latents: list[torch.Tensor] = []
        log_q: list[torch.Tensor] = []
        parent = x
        for layer, encoder in enumerate(self.encoders):
            q = encoder(parent)
            z = q.rsample(sample_shape if layer == 0 else ())
            log_q.append((detach_parameters(q) if stop_guide_gradient else q).log_prob(z))
            latents.append(z)
            parent = z
        return tuple(latents), torch.stack(log_q, -1)

    def guide_sample(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        z, log_q = self.guide_sample_groups(x, sample_shape, stop_guide_gradient)
        return z, log_q.sum(-1)

    def top_guide(self, x: torch.Tensor) -> Distribution:
        """q(z_L | μ_{L−1}(x)): the top encoder fed the chain of posterior means below it. The
        exact marginal ∫ q(z_L | z_{L−1}) q(z_{<L} | x) dz is intractable; this is the
        deterministic path a VampPrior over the top layer evaluates at its pseudo-inputs."""
        parent = x
        for encoder in self.encoders[:-1]:
            parent = encoder(parent).mean
        return self.encoders[-1](parent)

    def encode_mean(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        latents = []
        parent = x
        for encoder in self.encoders:
            parent = encoder(parent).mean
            latents.append(parent)
        return tuple(latents)

