"""A frame model's typed config: networks, latent size(s), likelihood family and prior.

Kept apart from the builders (vaelab.models.config) so configs and the command line can read and
validate it without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaelab.choices import ACTIVATION_NAMES, ARCHITECTURES, FAMILIES, INFERENCE, PRIORS


def _require(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"model.{field_name}: {message}")


@dataclass(frozen=True)
class ModelConfig:
    """A VAE's shape: networks, latent size, likelihood family and prior scale σ."""

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "upper_latents", tuple(int(d) for d in self.upper_latents))
        object.__setattr__(self, "upper_hidden", tuple(int(h) for h in self.upper_hidden))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        _require(self.architecture in ARCHITECTURES, "architecture",
                 f"{self.architecture!r} is not one of {', '.join(ARCHITECTURES)}")
        _require(1 <= self.latent_dim <= 4096, "latent_dim",
                 f"must be in [1, 4096], got {self.latent_dim}")
        _require(all(h >= 1 for h in self.hidden), "hidden", f"widths must be >= 1: {self.hidden}")
        _require(len(self.conv_channels) >= 1 and all(c >= 1 for c in self.conv_channels),
                 "conv_channels", f"need >= 1 positive channel counts: {self.conv_channels}")
        _require(self.activation in ACTIVATION_NAMES, "activation",
                 f"{self.activation!r} is not one of {', '.join(ACTIVATION_NAMES)}")
        _require(self.likelihood in FAMILIES, "likelihood",
                 f"{self.likelihood!r} is not one of {', '.join(FAMILIES)}")
        _require(self.fixed_scale > 0, "fixed_scale", f"must be > 0, got {self.fixed_scale}")
        _require(self.prior_scale > 0, "prior_scale", f"must be > 0, got {self.prior_scale}")
        _require(self.prior in PRIORS, "prior", f"{self.prior!r} is not one of {', '.join(PRIORS)}")
        _require(self.prior_components is None or self.prior_components >= 1, "prior_components",
                 f"must be >= 1, got {self.prior_components}")
        _require(all(1 <= d <= 4096 for d in self.upper_latents), "upper_latents",
                 f"sizes must be in [1, 4096]: {self.upper_latents}")
        _require(all(h >= 1 for h in self.upper_hidden), "upper_hidden",
                 f"widths must be >= 1: {self.upper_hidden}")
        _require(self.inference in INFERENCE, "inference",
                 f"{self.inference!r} is not one of {', '.join(INFERENCE)}")
        _require(not (self.upper_latents and self.architecture != "mlp"), "upper_latents",
                 "stacked stochastic layers are built with architecture = 'mlp'")

    @property
    def hierarchical(self) -> bool:
        return bool(self.upper_latents)
