"""The builders that turn a model config (vaelab.models.model_config) plus a data shape into a VAE.

Every choice the config names (prior, likelihood, guide family, architecture, inference) is looked
up in its registry (vaelab.components); the builders wire the components and never branch on a
name.
"""

from __future__ import annotations

import math

from torch import nn

from vaelab import components
from vaelab.choices import ARCHITECTURES as ARCHITECTURES
from vaelab.choices import INFERENCE as INFERENCE
from vaelab.distributions.families import GaussianFamily, make_family
from vaelab.distributions.guide_families import make_guide_family
from vaelab.distributions.prior import PriorSpec
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.latent_chain import LatentChainModel
from vaelab.models.model_config import ModelConfig as ModelConfig
from vaelab.models.vae import VAE
from vaelab.nn.mlp import MLP


def build_prior(config: ModelConfig, latent_dim: int, data_shape: tuple[int, ...],
                upper: float) -> nn.Module:
    """p(z) as configured (`config.prior`, a name in vaelab.components.priors), over `latent_dim`
    dimensions of data of `data_shape` whose largest value is `upper`."""
    spec = PriorSpec(latent_dim, tuple(data_shape), upper, config.prior_scale, config.prior_components)
    prior: nn.Module = components.priors.get(config.prior).from_spec(spec)
    return prior


def build_model(config: ModelConfig, data_shape: tuple[int, ...]) -> LatentVariableModel:
    """A VAE, or a hierarchical VAE when `upper_latents` is set, for data of `data_shape`; an
    architecture that builds whole models (`build`, e.g. "deep") builds it itself."""
    whole = getattr(components.architectures.get(config.architecture), "build", None)
    if whole is not None:
        model: LatentVariableModel = whole(config, data_shape)
        return model
    return build_hierarchical_vae(config, data_shape) if config.hierarchical else build_vae(
        config, data_shape)


def build_hierarchical_vae(config: ModelConfig, data_shape: tuple[int, ...]) -> LatentChainModel:
    """Burda et al.'s stacked model: MLPs between x and z_1 (`hidden`) and between latent
    layers (`upper_hidden`), Gaussian conditionals with learned variances; `config.inference`
    ("bottom-up", "top-down": a ladder-VAE guide, ...) puts it together with its guide."""
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
    inference = components.inference.get(config.inference)
    model: LatentChainModel = inference.assemble(config, data_shape, dims, in_scale, prior, transitions,
                                                 decoder, encoders)
    return model


def build_vae(config: ModelConfig, data_shape: tuple[int, ...]) -> VAE:
    """A VAE for data of shape [C, H, W] (or [D]) as the config describes: the architecture's
    encoder emits what the guide family asks for, its decoder what the likelihood does."""
    family = make_family(config.likelihood, config.fixed_scale)
    in_scale = 1.0 / 255.0 if family.data_kind == "byte" else 1.0
    d = config.latent_dim
    q_family = make_guide_family(config.posterior)
    architecture = components.architectures.get(config.architecture)
    enc_net, dec_net = architecture.networks(config, data_shape, q_family.num_params(d),
                                             family.params_per_element, in_scale)
    encoder = ConditionalDistribution(enc_net, q_family, (d,), data_shape)
    decoder = ConditionalDistribution(dec_net, family, data_shape, (d,))
    prior = build_prior(config, d, data_shape, 255.0 if family.data_kind == "byte" else 1.0)
    return VAE(prior, encoder, decoder)

