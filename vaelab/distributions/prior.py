"""The prior p(z) = Normal(0, σ²I): easy to sample, the root of every generative model here."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal


class StandardNormalPrior(nn.Module):
    """p(z) = Normal(0, σ² I) over `latent_dim` dimensions; σ = `scale` (default 1)."""

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

    def forward(self, encoder: nn.Module | None = None) -> Distribution:
        """p(z); `encoder` is accepted for interface parity with the VampPrior and ignored."""
        base = Normal(self.loc, self.scale_vector, validate_args=False)
        return Independent(base, 1, validate_args=False)
