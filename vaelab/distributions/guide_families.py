"""Guide families: how an encoder's raw output η(x) becomes the variational posterior q(z | x).

A VAE's encoder is `ConditionalDistribution(network, guide_family, (latent_dim,), data_shape)`:
the network emits `guide_family.num_params(latent_dim)` numbers per example and the family reads
them as a `torch.distributions` object with batch shape [*] and event shape [latent_dim]. The
family, not the builder, decides the encoder's output size, so a full-covariance Gaussian
(d + d(d+1)/2 numbers) or a flow whose parameters come from the encoder (planar, IAF) is one
registered class: `name`, `param_shape` (or `params_per_element`) and `__call__`. A family with
learned parameters of its own (a flow's) may also be an `nn.Module`: the guide then holds it.

The families a config names (`model.guide_family`, `VAE.from_networks(guide_family=...)`) are
registered in `vaelab.components.guide_families`; today the diagonal Gaussian alone.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Distribution

from vaelab import components
from vaelab.choices import GUIDE_FAMILIES as GUIDE_FAMILIES
from vaelab.distributions.families import Family, GaussianFamily


class GuideFamily(Family):
    """q(z | x) over a latent vector z [d] from η [*, *param_shape((d,))].

    Registered families are built with no arguments; `__call__(eta, 1)` returns q with
    batch [*] and event [d] (rsample for pathwise gradients, log_prob of its own draws).
    """

    data_kind = "latent"

    def num_params(self, latent_dim: int) -> int:
        """How many numbers the encoder emits per example for a latent vector of `latent_dim`."""
        return math.prod(self.param_shape((latent_dim,)))


class DiagonalGaussianGuide(GuideFamily):
    """q(z | x) = Normal(μ(x), diag s(x)²) with η = [μ, log s] (2 · d numbers), s = exp(log s)
    unbounded, as in Kingma & Welling 2014: the mean-field guide of the VAE and the IWAE."""

    name = "diagonal"
    params_per_element = 2

    def __init__(self) -> None:
        self._gaussian = GaussianFamily(bound_log_scale=False)

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        return self._gaussian(eta, event_dims)


def make_guide_family(family: str | GuideFamily) -> GuideFamily:
    """The guide family registered as `family` (one of GUIDE_FAMILIES, or one registered
    since), or a GuideFamily object returned as it is."""
    if isinstance(family, GuideFamily):
        return family
    built: GuideFamily = components.guide_families.get(family)()
    return built


__all__ = ["GUIDE_FAMILIES", "DiagonalGaussianGuide", "GuideFamily", "make_guide_family"]
