"""The generative half shared by stacked latent-variable models.

p(x, z_1..z_L) = p(z_L) ∏_{l<L} p(z_l | z_{l+1}) · p(x | z_1): a chain of conditional
distributions from the top latent down to the data. Models with different guides (bottom-up,
top-down) subclass `LatentChainModel` and add only their guide.

The top prior p(z_L) is called with `top_guide`, x ↦ q(z_L | x), so that a VampPrior,
(1/K) Σ_k q(z_L | u_k), shares the guide's weights as in the single-layer model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution


class LatentChainModel(LatentVariableModel):
    """Generative model z_L → ... → z_1 → x; the guide is the subclass's to define.

    `transitions[l]` is p(z_{l+1} | z_{l+2}) in 0-based bottom-up order (transitions[0] is
    p(z_1 | z_2)); latents are tuples (z_1, ..., z_L).
    """

    def __init__(
        self,
        prior: nn.Module,
        transitions: Sequence[ConditionalDistribution],
        decoder: ConditionalDistribution,
    ) -> None:
        super().__init__()
        self.prior_module = prior
        self.transitions = nn.ModuleList(transitions)
        self.decoder = decoder
        self.data_shape = decoder.event_shape
        self.data_kind = decoder.family.data_kind

    def top_guide(self, x: torch.Tensor) -> Distribution:
        """q(z_L | x) as a function of the data alone, for the VampPrior over the top layer."""
        raise NotImplementedError

    def top_prior(self) -> Distribution:
        """p(z_L): the configured prior module (Normal, mixture, or VampPrior over `top_guide`)."""
        return self.prior_module(self.top_guide)

    def log_prior_groups(self, z: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """[log p(z_1 | z_2), ..., log p(z_L)] stacked on the last axis (bottom first)."""
        log_p = [transition(z[layer + 1]).log_prob(z[layer])
                 for layer, transition in enumerate(self.transitions)]
        return torch.stack([*log_p, self.top_prior().log_prob(z[-1])], -1)

    def log_prior(self, z: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.log_prior_groups(z).sum(-1)

    def log_likelihood(self, x: torch.Tensor, z: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.decoder(z[0]).log_prob(x)

    def prior_sample(self, sample_shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        latents = [self.top_prior().sample(sample_shape)]
        for transition in reversed(self.transitions):
            latents.append(transition(latents[-1]).sample())
        return tuple(reversed(latents))

    @property
    def top_latent_dim(self) -> int:
        """Size of the top layer z_L (the explorer's sliders move it)."""
        last = self.transitions[-1] if len(self.transitions) else self.decoder
        return int(last.parent_shape[0])

    @torch.no_grad()
    def decode_from_top(self, z_top: torch.Tensor) -> torch.Tensor:
        """E[x | z_L, the layers below at their conditional means]."""
        z = z_top
        for transition in reversed(self.transitions):
            z = transition(z).mean
        return self.decoder.mean(z)

    def decode_mean(self, z: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.decoder.mean(z[0])

    def sample_observations(self, z: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.decoder(z[0]).sample()
