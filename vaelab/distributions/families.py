"""Distribution families: turn a network's raw output η into a `torch.distributions` object.

A family says how many raw numbers it needs per observed element (`params_per_element`) and
builds the distribution over a whole event (e.g. an image [C, H, W]) from them, so that
p(x | Pa(x)) = Family(f_DNN(Pa(x))) reads directly in code.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Final

import torch
from torch.distributions import Bernoulli, Categorical, Distribution, Independent, Normal

from vaelab.choices import FAMILIES as FAMILIES
from vaelab.distributions.discretized_logistic import DiscretizedLogistic

MIN_LOG_SCALE: Final = -7.0
MAX_LOG_SCALE: Final = 7.0


class Family(ABC):
    """Maps raw parameters η, shape [..., params_per_element, *event_shape], to a distribution."""

    params_per_element: int = 1
    #: data representation the family models: "binary" (0/1), "unit" ([0, 1]) or "byte" (0..255)
    data_kind: str = "unit"

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

    params_per_element = 1
    data_kind = "binary"

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        logits = eta.squeeze(-event_dims - 1)
        return _independent(Bernoulli(logits=logits, validate_args=False), event_dims)


class GaussianFamily(Family):
    """Diagonal Normal(μ, σ²) with σ learned (η = [μ, log σ]) or fixed (η = μ, σ = `scale`)."""

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


class DiscretizedLogisticFamily(Family):
    """8-bit pixels: a logistic density integrated over each of 256 bins (PixelCNN++, Salimans 2017)."""

    params_per_element = 2
    data_kind = "byte"

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        raw_loc, log_scale = eta.unbind(-event_dims - 1)
        loc = torch.sigmoid(raw_loc) * 255.0
        log_scale = log_scale.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)
        # scale in grey levels; exp(0) * 16 starts wide enough to cover the data
        return _independent(DiscretizedLogistic(loc, log_scale.exp() * 16.0), event_dims)


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
    """Family by name: one of FAMILIES."""
    if name == "bernoulli":
        return BernoulliFamily()
    if name == "gaussian":
        return GaussianFamily()
    if name == "gaussian-fixed":
        return GaussianFamily(scale=fixed_scale)
    if name == "logistic8":
        return DiscretizedLogisticFamily()
    raise ValueError(f"unknown likelihood {name!r}; choose one of {', '.join(FAMILIES)}")


def bits_per_dim(log_prob_nats: torch.Tensor, num_elements: int) -> torch.Tensor:
    """Convert a log-likelihood in nats per example into bits per element (lower is better)."""
    return -log_prob_nats / (num_elements * math.log(2.0))
