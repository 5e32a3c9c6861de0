"""A hierarchical VAE with top-down inference: the ladder VAE (Sønderby et al. 2016).

Generative model, top-down:  p(z_L) ∏_{l<L} p(z_l | z_{l+1}) · p(x | z_1)
Guide, also top-down:        q(z_L | x) ∏_{l<L} q(z_l | z_{l+1}, x)
A deterministic bottom-up pass d_l = f_l(d_{l−1}), d_0 = x, gives each layer a likelihood-like
message N(μ̂_l, σ̂_l²); the guide combines it with the generative conditional
p(z_l | z_{l+1}) = N(μ_p, σ_p²) by precision weighting:
    σ_q⁻² = σ̂_l⁻² + σ_p⁻²,   μ_q = σ_q² (μ̂_l σ̂_l⁻² + μ_p σ_p⁻²).
Inference and generation share the top-down path, which keeps the upper layers in use where
a bottom-up guide lets them collapse.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Independent, Normal

from vaelab.distributions.detach import detach_parameters
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.latent_chain import LatentChainModel


def residual_normal(message: Independent, prior: Independent) -> Independent:
    """The prior shifted and rescaled by the message: N(μ_p + μ̂, (σ_p σ̂)²) (NVAE's residual
    normal, Vahdat & Kautz 2020). The message moves q with weight 1 whatever the prior says, where
    precision weighting scales its pull by σ̂⁻² / (σ̂⁻² + σ_p⁻²): once a message widens, its
    gradient vanishes and the layer stays collapsed (bench/README.md, the ladder's collapse)."""
    m, p = message.base_dist, prior.base_dist
    return Independent(Normal(p.loc + m.loc, p.scale * m.scale, validate_args=False), 1,
                       validate_args=False)


def precision_weighted(message: Independent, prior: Independent) -> Independent:
    """The product of two diagonal Gaussians, renormalised: N(μ̂, σ̂²) · N(μ_p, σ_p²)."""
    m, p = message.base_dist, prior.base_dist
    precision_m, precision_p = m.scale.pow(-2), p.scale.pow(-2)
    variance = 1.0 / (precision_m + precision_p)
    loc = variance * (m.loc * precision_m + p.loc * precision_p)
    return Independent(Normal(loc, variance.sqrt(), validate_args=False), 1, validate_args=False)


#: how a top-down guide may combine a layer's bottom-up message with its generative conditional
COMBINERS = {"precision": precision_weighted, "residual": residual_normal}


class LadderVAE(LatentChainModel):
    """L stochastic layers with a top-down guide; `latent_dims` reads bottom (z_1) to top."""

    #: the guide uses the generative conditionals, so gradient estimators that assume the
    #: guide's parameters reach the loss only through z (DReG) do not apply
    guide_shares_generative_parameters = True

    def __init__(
        self,
        prior: nn.Module,
        transitions: Sequence[ConditionalDistribution],
        decoder: ConditionalDistribution,
        deterministic: Sequence[nn.Module],
        messages: Sequence[ConditionalDistribution],
        combine: str = "precision",
    ) -> None:
        """`transitions[l]` is p(z_{l+1} | z_{l+2}) (0-based, bottom-up order); `deterministic[l]`
        maps d_l to d_{l+1}; `messages[l]` maps d_{l+1} to N(μ̂, σ̂²) over z_{l+1}. `combine`:
        "precision" (Sønderby et al.'s precision weighting) or "residual" (NVAE's residual
        normal, which does not collapse where precision weighting does)."""
        if combine not in COMBINERS:
            raise ValueError(f"combine must be one of {', '.join(COMBINERS)}, got {combine!r}")
        if not len(messages) == len(deterministic) == len(transitions) + 1:
            raise ValueError("need one bottom-up block and message per layer, one transition per "
                             "layer below the top")
        super().__init__(prior, transitions, decoder)
        self.deterministic = nn.ModuleList(deterministic)
        self.messages = nn.ModuleList(messages)
        self.latent_dims = tuple(m.event_shape[0] for m in messages)
        self.combine = combine

    def _posterior(self, message: Independent, prior: Independent) -> Independent:
        return COMBINERS[self.combine](message, prior)

    def _bottom_up(self, x: torch.Tensor) -> list[Independent]:
        messages, h = [], x
        for block, message in zip(self.deterministic, self.messages, strict=True):
            h = block(h)
            messages.append(message(h))
        return messages

    def guide_sample_groups(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        messages = self._bottom_up(x)
        q = messages[-1]
        z = q.rsample(sample_shape)
        log_q = [(detach_parameters(q) if stop_guide_gradient else q).log_prob(z)]
        latents = [z]
        for layer in reversed(range(len(self.transitions))):
            q = self._posterior(messages[layer], self.transitions[layer](latents[-1]))
            z = q.rsample()
            log_q.append((detach_parameters(q) if stop_guide_gradient else q).log_prob(z))
            latents.append(z)
        return tuple(reversed(latents)), torch.stack(log_q[::-1], -1)

    def guide_sample(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        z, log_q = self.guide_sample_groups(x, sample_shape, stop_guide_gradient)
        return z, log_q.sum(-1)

    def top_guide(self, x: torch.Tensor) -> Independent:
        """q(z_L | x): the top layer's bottom-up message, exactly the guide's top factor."""
        return self._bottom_up(x)[-1]

    def encode_mean(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        messages = self._bottom_up(x)
        latents = [messages[-1].mean]
        for layer in reversed(range(len(self.transitions))):
            latents.append(self._posterior(messages[layer], self.transitions[layer](latents[-1])).mean)
        return tuple(reversed(latents))
