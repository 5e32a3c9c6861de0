"""The model's typed config and the builder that turns it (plus a data shape) into a VAE."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from vaelab.distributions.families import FAMILIES, GaussianFamily, make_family
from vaelab.distributions.learned_priors import (
    DEFAULT_COMPONENTS,
    PRIORS,
    MixtureOfGaussiansPrior,
    VampPrior,
)
from vaelab.distributions.prior import StandardNormalPrior
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.hierarchical import HierarchicalVAE
from vaelab.models.ladder import LadderVAE
from vaelab.models.vae import VAE
from vaelab.nn.conv import ConvDecoder, ConvEncoder
from vaelab.nn.mlp import ACTIVATIONS, MLP, make_activation

ARCHITECTURES = ("mlp", "conv")
#: how the guide of a hierarchical model runs: bottom-up (Burda) or top-down (ladder VAE)
INFERENCE = ("bottom-up", "top-down")


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
        _require(self.activation in ACTIVATIONS, "activation",
                 f"{self.activation!r} is not one of {', '.join(ACTIVATIONS)}")
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


def build_prior(config: ModelConfig, latent_dim: int, data_shape: tuple[int, ...],
                upper: float) -> nn.Module:
    """p(z) as configured: Normal(0, σ²I), a Gaussian mixture, or the VampPrior."""
    components = config.prior_components or DEFAULT_COMPONENTS.get(config.prior, 1)
    if config.prior == "mog":
        return MixtureOfGaussiansPrior(latent_dim, components)
    if config.prior == "vamp":
        return VampPrior(data_shape, components, upper)
    return StandardNormalPrior(latent_dim, config.prior_scale)


def build_model(config: ModelConfig, data_shape: tuple[int, ...]) -> LatentVariableModel:
    """A VAE, or a hierarchical VAE when `upper_latents` is set, for data of `data_shape`."""
    return build_hierarchical_vae(config, data_shape) if config.hierarchical else build_vae(
        config, data_shape)


def build_hierarchical_vae(config: ModelConfig,
                           data_shape: tuple[int, ...]) -> HierarchicalVAE | LadderVAE:
    """Burda et al.'s stacked model: MLPs between x and z_1 (`hidden`) and between latent
    layers (`upper_hidden`), Gaussian conditionals with learned variances; with
    inference = "top-down" the same generative model gets a ladder-VAE guide."""
    family = make_family(config.likelihood, config.fixed_scale)
    in_scale = 1.0 / 255.0 if family.data_kind == "byte" else 1.0
    dims = (config.latent_dim, *config.upper_latents)
    gaussian = GaussianFamily(bound_log_scale=True)
    act = config.activation
    encoders = [ConditionalDistribution(MLP(data_shape, config.hidden, 2 * dims[0], act, in_scale),
                                        gaussian, (dims[0],), data_shape)]
    transitions = []
    for below, above in zip(dims, dims[1:], strict=False):
        encoders.append(ConditionalDistribution(MLP((below,), config.upper_hidden, 2 * above, act),
                                                gaussian, (above,), (below,)))
        transitions.append(ConditionalDistribution(
            MLP((above,), tuple(reversed(config.upper_hidden)), 2 * below, act), gaussian, (below,),
            (above,)))
    decoder = ConditionalDistribution(
        MLP((dims[0],), tuple(reversed(config.hidden)), family.params_per_element * math.prod(data_shape),
            act), family, data_shape, (dims[0],))
    prior = build_prior(config, dims[-1], data_shape, 255.0 if family.data_kind == "byte" else 1.0)
    if config.inference == "top-down":
        return LadderVAE(prior, transitions, decoder, *_ladder_guide(config, data_shape, dims,
                                                                     in_scale))
    return HierarchicalVAE(prior, transitions, decoder, encoders)


def _ladder_guide(config: ModelConfig, data_shape: tuple[int, ...], dims: tuple[int, ...],
                  in_scale: float) -> tuple[list[nn.Module], list[ConditionalDistribution]]:
    """Bottom-up deterministic blocks and, per layer, the Gaussian message N(μ̂_l, σ̂_l²)."""
    act = config.activation
    width_first = config.hidden[-1] if config.hidden else 2 * dims[0]
    width_upper = config.upper_hidden[-1] if config.upper_hidden else 2 * dims[0]
    blocks: list[nn.Module] = [MLP(data_shape, config.hidden[:-1], width_first, act, in_scale)]
    blocks += [MLP((width_first if i == 0 else width_upper,), config.upper_hidden[:-1], width_upper,
                   act) for i in range(len(dims) - 1)]
    gaussian = GaussianFamily(bound_log_scale=True)
    messages = []
    for i, d in enumerate(dims):
        width = width_first if i == 0 else width_upper
        head = nn.Sequential(make_activation(act), nn.Linear(width, 2 * d))
        messages.append(ConditionalDistribution(head, gaussian, (d,), (width,)))
    return blocks, messages


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
    prior = build_prior(config, d, data_shape, 255.0 if family.data_kind == "byte" else 1.0)
    return VAE(prior, encoder, decoder)

