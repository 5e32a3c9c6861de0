"""The model's typed config and the builder that turns it (plus a data shape) into a VAE."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelab.distributions.families import FAMILIES, GaussianFamily, make_family
from vaelab.distributions.prior import StandardNormalPrior
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.vae import VAE
from vaelab.nn.conv import ConvDecoder, ConvEncoder
from vaelab.nn.mlp import ACTIVATIONS, MLP

ARCHITECTURES = ("mlp", "conv")


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        _require(self.architecture in ARCHITECTURES, "architecture",
                 f"{self.architecture!r} is not one of {', '.join(ARCHITECTURES)}")
        _require(1 <= self.latent_dim <= 4096, "latent_dim",
                 f"must be in [1, 4096], got {self.latent_dim}")
        _require(all(h >= 1 for h in self.hidden), "hidden", f"widths must be >= 1: {self.hidden}")
        _require(len(self.conv_channels) >= 1 and all(c >= 1 for c in self.conv_channels),
                 "conv_channels", f"need >= 1 positive channel counts: {self.conv_channels}")
        _require(self.activation in ACTIVATIONS, "activation",
                 f"{self.activation!r} is not one of {', '.join(ACTIVATIONS)}")
        _require(self.likelihood in FAMILIES, "likelihood",
                 f"{self.likelihood!r} is not one of {', '.join(FAMILIES)}")
        _require(self.fixed_scale > 0, "fixed_scale", f"must be > 0, got {self.fixed_scale}")
        _require(self.prior_scale > 0, "prior_scale", f"must be > 0, got {self.prior_scale}")


def build_vae(config: ModelConfig, data_shape: tuple[int, ...]) -> VAE:
    """A VAE for data of shape [C, H, W] (or [D]) as the config describes."""
    family = make_family(config.likelihood, config.fixed_scale)
    in_scale = 1.0 / 255.0 if family.data_kind == "byte" else 1.0
    d = config.latent_dim
    # q(z | x) = Normal(μ(x), diag s(x)²); s = exp(η) unbounded, as in Kingma & Welling
    q_family = GaussianFamily(bound_log_scale=False)
    p_out = family.params_per_element
    if config.architecture == "mlp":
        enc_net = MLP(data_shape, config.hidden, 2 * d, config.activation, in_scale)
        dec_net = MLP((d,), tuple(reversed(config.hidden)), p_out * math.prod(data_shape),
                      config.activation)
    else:
        if len(data_shape) != 3:
            raise ValueError(f"model.architecture: 'conv' needs image data [C, H, W], got {data_shape}")
        hidden = config.hidden[0] if config.hidden else 256
        c, h, w = data_shape
        enc_net = ConvEncoder(data_shape, 2 * d, config.conv_channels, hidden, config.activation,
                              in_scale)
        dec_net = ConvDecoder(d, (p_out * c, h, w), tuple(reversed(config.conv_channels)), hidden,
                              config.activation)
    encoder = ConditionalDistribution(enc_net, q_family, (d,), data_shape)
    decoder = ConditionalDistribution(dec_net, family, data_shape, (d,))
    return VAE(StandardNormalPrior(d, config.prior_scale), encoder, decoder)

