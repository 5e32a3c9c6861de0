"""Learned priors: a mixture of Gaussians, and the VampPrior (Tomczak & Welling 2018).

A standard Normal prior over-regularises: the aggregate posterior rarely looks like it. A
learned mixture lets p(z) follow the encodings; the VampPrior goes further and defines
p(z) = (1/K) Σ_k q(z | u_k) with K learned pseudo-inputs u_k in data space, so the prior is
the guide's own mixture over a few "prototype" inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from vaelab.choices import PRIORS as PRIORS


class MixtureOfGaussiansPrior(nn.Module):
    """p(z) = Σ_k π_k Normal(μ_k, diag σ_k²) with learned π, μ, σ (K components)."""

    def __init__(self, latent_dim: int, components: int) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"a mixture prior needs >= 1 components, got {components}")
        self.latent_dim = latent_dim
        self.logits = nn.Parameter(torch.zeros(components))
        self.means = nn.Parameter(torch.randn(components, latent_dim))
        self.log_scales = nn.Parameter(torch.zeros(components, latent_dim))

    def forward(self, encoder: nn.Module | None = None) -> Distribution:
        components = Independent(Normal(self.means, self.log_scales.exp(), validate_args=False), 1)
        return MixtureSameFamily(Categorical(logits=self.logits, validate_args=False), components,
                                 validate_args=False)


class VampPrior(nn.Module):
    """p(z) = (1/K) Σ_k q(z | u_k): the guide evaluated at K learned pseudo-inputs u_k.

    The pseudo-inputs live in data space, squashed into the data's range [0, `upper`]; the
    guide is passed in at call time so its weights are shared, not copied.
    """

    def __init__(self, data_shape: Sequence[int], components: int, upper: float = 1.0) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"the VampPrior needs >= 1 pseudo-inputs, got {components}")
        self.upper = upper
        # start dark with a little spread, like the mostly-background images they imitate
        self.raw_inputs = nn.Parameter(torch.randn(components, *data_shape) * 0.1 - 1.0)

    @property
    def pseudo_inputs(self) -> torch.Tensor:
        return torch.sigmoid(self.raw_inputs) * self.upper

    def forward(self, encoder: nn.Module | None = None) -> Distribution:
        if encoder is None:
            raise ValueError("the VampPrior needs the guide q(z | x) to evaluate its pseudo-inputs")
        components = encoder(self.pseudo_inputs)  # batch [K], event [d]
        k = self.raw_inputs.shape[0]
        mixing = Categorical(logits=torch.zeros(k, device=self.raw_inputs.device), validate_args=False)
        return MixtureSameFamily(mixing, components, validate_args=False)


DEFAULT_COMPONENTS = {"mog": 10, "vamp": 500}

