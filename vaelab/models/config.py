"""The builders that turn a model config (vaelab.models.model_config) plus a data shape into a VAE."""

from __future__ import annotations

import math

from torch import nn

from vaelab.choices import ARCHITECTURES as ARCHITECTURES
from vaelab.choices import INFERENCE as INFERENCE
from vaelab.distributions.families import GaussianFamily, make_family
from vaelab.distributions.learned_priors import (
    DEFAULT_COMPONENTS,
    MixtureOfGaussiansPrior,
    VampPrior,
)
from vaelab.distributions.prior import StandardNormalPrior
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.hierarchical import HierarchicalVAE
from vaelab.models.ladder import LadderVAE
from vaelab.models.model_config import ModelConfig as ModelConfig
from vaelab.models.vae import VAE
from vaelab.nn.conv import ConvDecoder, ConvEncoder
from vaelab.nn.mlp import MLP, make_activation


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

