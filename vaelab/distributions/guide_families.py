"""Guide families: how an encoder's raw output η(x) becomes the variational posterior q(z | x).

A VAE's encoder is `ConditionalDistribution(network, guide_family, (latent_dim,), data_shape)`:
the network emits `guide_family.num_params(latent_dim)` numbers per example and the family reads
them as a `torch.distributions` object with batch shape [*] and event shape [latent_dim]. The
family, not the builder, decides the encoder's output size, so a full-covariance Gaussian
(d + d(d+1)/2 numbers) or a flow whose parameters come from the encoder (planar, IAF) is one
registered class: `name`, `param_shape` (or `params_per_element`) and `__call__`. A family with
learned parameters of its own (an IAF's MADE networks) is also an `nn.Module` and builds them in
`bind(event_shape)`: the conditional then holds it, so they are the model's parameters.

The families a config names (`model.posterior`, `--posterior`, `VAE.from_networks(posterior=...)`)
are registered in `vaelab.components.guide_families`: "diagonal" and "full" here, the flows
"planar:K", "iaf:K" and "spline:K" in `vaelab.distributions.flow_guides`. A family named with a
number of steps K declares `takes_steps = True` and is built as `cls(K)`; `make_guide_family`
is the one place that reads "name:K".
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch.distributions import Distribution, MultivariateNormal

from vaelab import components
from vaelab.choices import GUIDE_FAMILIES as GUIDE_FAMILIES
from vaelab.distributions.families import Family, GaussianFamily


class GuideFamily(Family):
    """q(z | x) over a latent vector z [d] from η [*, *param_shape((d,))].

    Registered families are built with no arguments (or `cls(K)` when `takes_steps`);
    `__call__(eta, 1)` returns q with batch [*] and event [d] (rsample for pathwise gradients,
    log_prob of its own draws).
    """

    data_kind = "latent"
    #: named "NAME:K" and built as cls(K): a flow of K steps
    takes_steps: ClassVar[bool] = False
    #: can score z with stopped parameters (the STL and DReG objectives need it)
    scores_stopped: ClassVar[bool] = True

    def num_params(self, latent_dim: int) -> int:
        """How many numbers the encoder emits per example for a latent vector of `latent_dim`."""
        return math.prod(self.param_shape((latent_dim,)))

    @property
    def spec(self) -> str:
        """The family as a config names it ("diagonal", "iaf:4")."""
        steps = getattr(self, "steps", None)
        name = getattr(self, "name", type(self).__name__)
        return f"{name}:{steps}" if self.takes_steps and steps is not None else name


class DiagonalGaussianGuide(GuideFamily):
    """q(z | x) = Normal(μ(x), diag s(x)²) with η = [μ, log s] (2 · d numbers), s = exp(log s)
    unbounded, as in Kingma & Welling 2014: the mean-field guide of the VAE and the IWAE."""

    name = "diagonal"
    params_per_element = 2

    def __init__(self) -> None:
        self._gaussian = GaussianFamily(bound_log_scale=False)

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        return self._gaussian(eta, event_dims)


def _latent_dim(event_shape: tuple[int, ...], family: str) -> int:
    if len(event_shape) != 1:
        raise ValueError(f"guide family {family!r} models a latent vector (event shape (d,)), "
                         f"got event shape {event_shape}")
    return event_shape[0]


class FullCovarianceGaussianGuide(GuideFamily):
    """q(z | x) = Normal(μ(x), L(x) L(x)ᵀ) with L lower triangular: η = [μ, the d(d+1)/2 entries
    of L row by row], L's diagonal exp(η) (positive, unbounded as the diagonal guide's scale).

    The exact posterior of a linear-Gaussian model is such a Gaussian, so on one this guide
    closes the ELBO's gap (tests/distributions/test_guide_families.py).
    """

    name = "full"

    def param_shape(self, event_shape: tuple[int, ...]) -> tuple[int, ...]:
        d = _latent_dim(event_shape, self.name)
        return (d + d * (d + 1) // 2,)

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        if event_dims != 1:
            raise ValueError(f"the full-covariance guide has one event dimension, got {event_dims}")
        n = eta.shape[-1]
        d = int((math.isqrt(9 + 8 * n) - 3) // 2)  # n = d + d(d+1)/2
        loc, entries = eta[..., :d], eta[..., d:]
        rows, cols = torch.tril_indices(d, d, device=eta.device)
        raw = eta.new_zeros(*eta.shape[:-1], d, d)
        raw[..., rows, cols] = entries
        diagonal = torch.diagonal(raw, dim1=-2, dim2=-1)
        scale_tril = raw - torch.diag_embed(diagonal) + torch.diag_embed(diagonal.exp())
        return MultivariateNormal(loc, scale_tril=scale_tril, validate_args=False)


def check_continuous_latent(generative: Distribution | Family, guide: Family, where: str) -> None:
    """Refuse a guide family (a density over real vectors: Gaussian or flow) on a latent whose
    generative side, p(z) or the family of p(z | Pa(z)), is discrete; `where` starts the message."""
    if not isinstance(guide, GuideFamily):
        return
    if isinstance(generative, Distribution):
        discrete = bool(getattr(generative.support, "is_discrete", False))
    else:
        discrete = generative.data_kind in ("binary", "label", "byte")
    if discrete:
        raise ValueError(f"{where}: the latent is discrete, but the guide family {guide.spec!r} is a "
                         "density over real vectors; give a discrete latent a discrete guide "
                         "(e.g. CategoricalFamily)")


def make_guide_family(family: str | GuideFamily) -> GuideFamily:
    """The guide family a config names ("diagonal", "full", "iaf:4", ... or one registered since:
    `components.parse_guide_family` reads "name:K" and refuses an unknown name or K < 1 with one
    ValueError), or a GuideFamily object returned as it is."""
    if isinstance(family, GuideFamily):
        return family
    name, steps = components.parse_guide_family(family)
    cls = components.guide_families.get(name)
    built: GuideFamily = cls() if steps is None else cls(steps)
    return built


__all__ = ["GUIDE_FAMILIES", "DiagonalGaussianGuide", "FullCovarianceGaussianGuide", "GuideFamily",
           "check_continuous_latent", "make_guide_family"]
