"""Distribution families: turn a network's raw output η into a `torch.distributions` object.

A family says how many raw numbers it needs per observed element (`params_per_element`) and
builds the distribution over a whole event (e.g. an image [C, H, W]) from them, so that
p(x | Pa(x)) = Family(f_DNN(Pa(x))) reads directly in code. The likelihoods a config names
(`model.likelihood`) are registered in `vaelab.components.likelihoods`: each declares its `name`
and builds itself with `from_options`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar, Final

import torch
from torch.distributions import Bernoulli, Categorical, Distribution, Independent, Normal

from vaelab import components
from vaelab.choices import FAMILIES as FAMILIES
from vaelab.distributions.discretized_logistic import DiscretizedLogistic, discretized_logistic_mixture

MIN_LOG_SCALE: Final = -7.0
MAX_LOG_SCALE: Final = 7.0


class Family(ABC):
    """Maps raw parameters η, shape [..., params_per_element, *event_shape], to a distribution."""

    params_per_element: int = 1
    #: data representation the family models: "binary" (0/1), "unit" ([0, 1]) or "byte" (0..255)
    data_kind: str = "unit"
    #: the name a config gives a registered family
    name: ClassVar[str]

    @classmethod
    def from_options(cls, fixed_scale: float = 0.1) -> Family:
        """The family a config names (`fixed_scale`: σ of a fixed-scale Gaussian; others ignore it).
        A family named with a number of components, NAME:K (`takes_components`), is built as
        `from_options(fixed_scale, components=K)`."""
        return cls()

    def param_shape(self, event_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape η has for one event: [params_per_element, *event_shape]. A family whose
        parameters are not one set per element (a full covariance) says otherwise."""
        return (self.params_per_element, *event_shape)

    def bind(self, event_shape: tuple[int, ...]) -> Family:
        """The family a conditional over events of `event_shape` uses: itself, or for a family
        with learned parameters of its own (a flow's networks) itself with those parameters built
        for that shape (`ConditionalDistribution` calls it once and holds the result)."""
        return self

    @abstractmethod
    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        """The distribution whose last `event_dims` dimensions form one event."""

    def mean(self, eta: torch.Tensor, event_dims: int) -> torch.Tensor:
        """Mean of the distribution, used for pictures of reconstructions and samples."""
        return self(eta, event_dims).mean


def _independent(base: Distribution, event_dims: int) -> Distribution:
    return Independent(base, event_dims, validate_args=False) if event_dims else base


class BernoulliFamily(Family):
    """Bernoulli(logits=η) per element: binary data such as binarized MNIST."""

    name = "bernoulli"
    params_per_element = 1
    data_kind = "binary"

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        logits = eta.squeeze(-event_dims - 1)
        return _independent(Bernoulli(logits=logits, validate_args=False), event_dims)


class GaussianFamily(Family):
    """Diagonal Normal(μ, σ²) with σ learned (η = [μ, log σ]) or fixed (η = μ, σ = `scale`)."""

    name = "gaussian"
    data_kind = "unit"

    def __init__(self, scale: float | None = None, bound_log_scale: bool = True) -> None:
        if scale is not None and not scale > 0:
            raise ValueError(f"GaussianFamily scale must be > 0, got {scale}")
        self.scale = scale
        self.bound_log_scale = bound_log_scale
        self.params_per_element = 1 if scale is not None else 2

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        if self.scale is not None:
            loc = eta.squeeze(-event_dims - 1)
            return _independent(Normal(loc, torch.full_like(loc, self.scale), validate_args=False),
                                event_dims)
        loc, log_scale = eta.unbind(-event_dims - 1)
        if self.bound_log_scale:
            log_scale = log_scale.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)
        return _independent(Normal(loc, log_scale.exp(), validate_args=False), event_dims)


class FixedScaleGaussianFamily(GaussianFamily):
    """The "gaussian-fixed" likelihood: Normal(μ, σ²) with σ = `fixed_scale` (η = μ), a
    GaussianFamily with its scale given (only the construction differs)."""

    name = "gaussian-fixed"

    def __init__(self, fixed_scale: float = 0.1) -> None:
        super().__init__(scale=fixed_scale)

    @classmethod
    def from_options(cls, fixed_scale: float = 0.1) -> FixedScaleGaussianFamily:
        return cls(fixed_scale)


class DiscretizedLogisticFamily(Family):
    """8-bit pixels: a logistic density integrated over each of 256 bins (PixelCNN++, Salimans 2017)."""

    name = "logistic8"
    params_per_element = 2
    data_kind = "byte"

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        raw_loc, log_scale = eta.unbind(-event_dims - 1)
        loc = torch.sigmoid(raw_loc) * 255.0
        log_scale = log_scale.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)
        # scale in grey levels; exp(0) * 16 starts wide enough to cover the data
        return _independent(DiscretizedLogistic(loc, log_scale.exp() * 16.0), event_dims)


class DiscretizedLogisticMixtureFamily(Family):
    """8-bit pixels: a mixture of K discretized logistics per element, "logistic-mixture:K"
    (PixelCNN++, Salimans et al. 2017; VDVAE, Child 2021; K = 10 when the name gives none).

    η holds, per element, K mixture logits, K raw locations and K log-scales (3K numbers), each
    turned into a component as `DiscretizedLogisticFamily` does (μ = 255·sigmoid, s = 16·e^{log s}
    with log s clamped to ±7). Every channel has its own mixture: the RGB coupling of PixelCNN++
    (shared weights, green and blue means linear in the red and green values) is left out, as
    VDVAE's grey-level case needs none; K = 1 is the `logistic8` likelihood.
    """

    name = "logistic-mixture"
    data_kind = "byte"
    takes_components: ClassVar[bool] = True
    #: K when the config names the family without one (PixelCNN++ and VDVAE use 10)
    DEFAULT_COMPONENTS: ClassVar[int] = 10

    def __init__(self, components: int = DEFAULT_COMPONENTS) -> None:
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ValueError(f"logistic-mixture needs an integer number of components K >= 1, "
                             f"got {components!r}")
        self.components = components
        self.params_per_element = 3 * components

    @classmethod
    def from_options(cls, fixed_scale: float = 0.1,
                     components: int | None = None) -> DiscretizedLogisticMixtureFamily:
        return cls(cls.DEFAULT_COMPONENTS if components is None else components)

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        # [..., 3K, *event] -> three [..., *event, K]
        logits, raw_loc, log_scale = eta.movedim(-event_dims - 1, -1).chunk(3, dim=-1)
        loc = torch.sigmoid(raw_loc) * 255.0
        scale = log_scale.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE).exp() * 16.0
        return _independent(discretized_logistic_mixture(logits, loc, scale), event_dims)


class CategoricalFamily(Family):
    """Categorical(logits=η) over `classes` values: a class label y, as in q(y | x).

    Used with an empty event shape: η = f_DNN(x) has shape [..., classes], one label per example.
    """

    data_kind = "label"

    def __init__(self, classes: int) -> None:
        if classes < 2:
            raise ValueError(f"CategoricalFamily needs >= 2 classes, got {classes}")
        self.params_per_element = classes

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        if event_dims:
            raise ValueError("CategoricalFamily models one label per example (event_dims = 0)")
        return Categorical(logits=eta, validate_args=False)




def make_family(name: str, fixed_scale: float = 0.1) -> Family:
    """The likelihood family a config names: one of FAMILIES (or one registered since), a family
    that takes a number of components optionally as NAME:K ("logistic-mixture:5")."""
    family_name, k = components.parse_likelihood(name)
    cls = components.likelihoods.get(family_name)
    family: Family = (cls.from_options(fixed_scale) if k is None
                      else cls.from_options(fixed_scale, components=k))
    return family


def bits_per_dim(log_prob_nats: torch.Tensor, num_elements: int) -> torch.Tensor:
    """Convert a log-likelihood in nats per example into bits per element (lower is better)."""
    return -log_prob_nats / (num_elements * math.log(2.0))
