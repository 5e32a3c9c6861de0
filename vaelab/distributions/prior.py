"""Priors p(z): the interface a registered prior provides, and p(z) = Normal(0, σ²I), easy to
sample, the root of every generative model here.

A prior is chosen by name (`model.prior`, `--prior`, `VAE.from_networks(prior=...)`) from the
registry `vaelab.components.priors`; its class builds itself from a `PriorSpec`, so the builders
never branch on the name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal


@dataclass(frozen=True)
class PriorSpec:
    """What a prior may be built from: the latent size, the data's shape and largest value
    (1, or 255 for 8-bit pixels: a VampPrior's pseudo-inputs live in the data's range), the
    configured scale σ and number of mixture components (None: the prior's default)."""

    latent_dim: int
    data_shape: tuple[int, ...]
    data_upper: float = 1.0
    scale: float = 1.0
    components: int | None = None


class Prior(nn.Module, ABC):
    """p(z) as a module: `forward(encoder)` returns a Distribution with batch shape () and event
    shape (latent_dim,). `encoder` is the guide q(z | x), passed at call time so that a prior
    built from it (the VampPrior) shares its weights; other priors ignore it.

    A registered prior declares its `name` and builds itself with `from_spec`.
    """

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: PriorSpec) -> Prior:
        """A freshly initialised prior as `spec` describes (seed the RNG first)."""

    @abstractmethod
    def forward(self, encoder: Callable[[torch.Tensor], Distribution] | None = None) -> Distribution:
        """p(z)."""


class StandardNormalPrior(Prior):
    """p(z) = Normal(0, σ² I) over `latent_dim` dimensions; σ = `scale` (default 1)."""

    name = "normal"

    def __init__(self, latent_dim: int, scale: float = 1.0) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if not scale > 0:
            raise ValueError(f"prior scale must be > 0, got {scale}")
        self.latent_dim = latent_dim
        self.scale = float(scale)
        # buffers follow the module across devices without the model knowing about devices
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)
        self.register_buffer("scale_vector", torch.full((latent_dim,), self.scale), persistent=False)

    @classmethod
    def from_spec(cls, spec: PriorSpec) -> StandardNormalPrior:
        return cls(spec.latent_dim, spec.scale)

    def forward(self, encoder: Callable[[torch.Tensor], Distribution] | None = None) -> Distribution:
        """p(z); `encoder` is accepted for interface parity with the VampPrior and ignored."""
        base = Normal(self.loc, self.scale_vector, validate_args=False)
        return Independent(base, 1, validate_args=False)
