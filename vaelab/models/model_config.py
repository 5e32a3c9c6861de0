"""A frame model's typed config: networks, latent size(s), likelihood family and prior.

Kept apart from the builders (vaelab.models.config) so configs and the command line can read and
validate it without loading torch. A named component is checked against its registry
(vaelab.components), so one registered from Python after start-up is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaelab import components
from vaelab.choices import ACTIVATION_NAMES
from vaelab.registry import Registry


def _require(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"model.{field_name}: {message}")


def _require_registered(name: str, registry: Registry[Any], field_name: str) -> None:
    _require(name in registry, field_name, f"{name!r} is not one of {', '.join(registry.names())}")


@dataclass(frozen=True)
class ModelConfig:
    """A VAE's shape: networks, latent size, likelihood family, prior (and its scale σ) and the
    guide family of q(z | x)."""

    architecture: str = "mlp"
    latent_dim: int = 32
    hidden: tuple[int, ...] = (512, 512)
    conv_channels: tuple[int, ...] = (32, 64)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    fixed_scale: float = 0.1
    prior_scale: float = 1.0
    prior: str = "normal"
    prior_components: int | None = None
    upper_latents: tuple[int, ...] = ()
    upper_hidden: tuple[int, ...] = (100, 100)
    inference: str = "bottom-up"
    guide_family: str = "diagonal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "upper_latents", tuple(int(d) for d in self.upper_latents))
        object.__setattr__(self, "upper_hidden", tuple(int(h) for h in self.upper_hidden))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        _require_registered(self.architecture, components.architectures, "architecture")
        _require(1 <= self.latent_dim <= 4096, "latent_dim",
                 f"must be in [1, 4096], got {self.latent_dim}")
        _require(all(h >= 1 for h in self.hidden), "hidden", f"widths must be >= 1: {self.hidden}")
        _require(len(self.conv_channels) >= 1 and all(c >= 1 for c in self.conv_channels),
                 "conv_channels", f"need >= 1 positive channel counts: {self.conv_channels}")
        _require(self.activation in ACTIVATION_NAMES, "activation",
                 f"{self.activation!r} is not one of {', '.join(ACTIVATION_NAMES)}")
        _require_registered(self.likelihood, components.likelihoods, "likelihood")
        _require(self.fixed_scale > 0, "fixed_scale", f"must be > 0, got {self.fixed_scale}")
        _require(self.prior_scale > 0, "prior_scale", f"must be > 0, got {self.prior_scale}")
        _require_registered(self.prior, components.priors, "prior")
        _require(self.prior_components is None or self.prior_components >= 1, "prior_components",
                 f"must be >= 1, got {self.prior_components}")
        _require(all(1 <= d <= 4096 for d in self.upper_latents), "upper_latents",
                 f"sizes must be in [1, 4096]: {self.upper_latents}")
        _require(all(h >= 1 for h in self.upper_hidden), "upper_hidden",
                 f"widths must be >= 1: {self.upper_hidden}")
        _require_registered(self.inference, components.inference, "inference")
        _require_registered(self.guide_family, components.guide_families, "guide_family")
        _require(not (self.upper_latents and self.architecture != "mlp"), "upper_latents",
                 "stacked stochastic layers are built with architecture = 'mlp'")
        _require(not (self.upper_latents and self.guide_family != "diagonal"), "guide_family",
                 "stacked stochastic layers have diagonal Gaussian conditionals: guide_family = 'diagonal'")

    @property
    def hierarchical(self) -> bool:
        return bool(self.upper_latents)
