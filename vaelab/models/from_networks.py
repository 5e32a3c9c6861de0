"""Bring your own networks: wrap any encoder and decoder `nn.Module` as a VAE's conditionals.

The contract, checked once at construction with a dry run on a batch of two zeros:
- encoder: x [B, *data_shape] -> a tensor with posterior.num_params(latent_dim) numbers per
  example; for the default diagonal Gaussian 2 · latent_dim, e.g. [B, 2 · latent_dim], read as
  [B, 2, latent_dim]: the first latent_dim are the mean of q(z | x), the last latent_dim the log
  standard deviation (exactly what the built-in MLP and ConvEncoder emit).
- decoder: z [B, latent_dim] -> a tensor with params_per_element · prod(data_shape) numbers per
  example, read as [B, params_per_element, *data_shape] (parameter-major: for a Gaussian on
  [C, H, W] images a ConvDecoder's [B, 2C, H, W] holds C mean maps, then C log-scale maps);
  the family turns it into p(x | z), e.g. Bernoulli logits.
A network that fails on its input, or emits the wrong number of values, raises a one-line
ValueError naming its class and the expected and actual shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab import components as registries
from vaelab.distributions.families import Family, make_family
from vaelab.distributions.guide_families import GuideFamily, check_continuous_latent, make_guide_family
from vaelab.distributions.prior import PriorSpec
from vaelab.models.conditional import ConditionalDistribution


def make_prior(prior: nn.Module | str | None, latent_dim: int, data_shape: tuple[int, ...],
               data_kind: str, scale: float = 1.0, components: int | None = None) -> nn.Module:
    """p(z) by its registered name ("normal" (also None), "mog", "vamp", or one registered in
    vaelab.components.priors since) or a module returned as it is."""
    if isinstance(prior, nn.Module):
        return prior
    name = "normal" if prior is None else prior
    if name not in registries.priors:
        raise ValueError(f"prior must be an nn.Module or one of {', '.join(registries.priors.names())}, "
                         f"got {prior!r}")
    spec = PriorSpec(latent_dim, tuple(data_shape), 255.0 if data_kind == "byte" else 1.0, scale,
                     components)
    module: nn.Module = registries.priors.get(name).from_spec(spec)
    return module


def wrap_networks(
    encoder: nn.Module,
    decoder: nn.Module,
    likelihood: str | Family,
    latent_dim: int,
    data_shape: Sequence[int],
    prior: nn.Module | str | None = None,
    fixed_scale: float = 0.1,
    prior_scale: float = 1.0,
    prior_components: int | None = None,
    posterior: str | GuideFamily = "diagonal",
) -> tuple[nn.Module, ConditionalDistribution, ConditionalDistribution]:
    """(p(z), q(z | x), p(x | z)) from the user's networks, shape-checked (module docstring)."""
    if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
        raise ValueError(f"encoder and decoder must be nn.Modules, got {type(encoder).__name__} "
                         f"and {type(decoder).__name__}")
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be an int >= 1, got {latent_dim!r}")
    shape = tuple(data_shape)
    if not shape or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(f"data_shape must be a non-empty tuple of positive ints, got {data_shape!r}")
    if isinstance(likelihood, str):
        family = make_family(likelihood, fixed_scale)
    elif isinstance(likelihood, Family):
        family = likelihood
    else:
        raise ValueError(f"likelihood must be a family name or a Family, got {type(likelihood).__name__}")
    # default: q(z | x) = Normal(μ(x), diag s(x)²), s = exp(η) unbounded, as the built-in VAE
    q_family = make_guide_family(posterior)
    guide = ConditionalDistribution(encoder, q_family, (latent_dim,), shape)
    guide.check_shapes("encoder (x -> loc, log-scale of q(z | x))" if q_family.spec == "diagonal"
                       else f"encoder (x -> parameters of q(z | x), guide family {q_family.spec})")
    emitter = ConditionalDistribution(decoder, family, shape, (latent_dim,))
    emitter.check_shapes("decoder (z -> parameters of p(x | z))")
    prior_module = make_prior(prior, latent_dim, shape, family.data_kind, prior_scale,
                              prior_components)
    _check_prior(prior_module, guide, latent_dim)
    return prior_module, guide, emitter


def _check_prior(prior: nn.Module, guide: ConditionalDistribution, latent_dim: int) -> None:
    name = type(prior).__name__
    modes = [(module, module.training) for module in (*prior.modules(), *guide.modules())]
    prior.eval()
    guide.eval()
    try:
        with torch.no_grad():
            dist = prior(guide)
    finally:
        for module, training in modes:
            module.training = training
    if not isinstance(dist, Distribution) or dist.event_shape != (latent_dim,) or dist.batch_shape:
        got = (f"batch {tuple(dist.batch_shape)}, event {tuple(dist.event_shape)}"
               if isinstance(dist, Distribution) else f"a {type(dist).__name__}")
        raise ValueError(f"prior {name} gives {got}; a VAE with latent_dim {latent_dim} needs "
                         f"batch (), event ({latent_dim},)")
    check_continuous_latent(dist, guide.family, f"prior {name}")
