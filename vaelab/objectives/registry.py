"""Training objectives by name, so a config can say `objective = "iwae"` and `samples = 5`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from vaelab.choices import OBJECTIVES as OBJECTIVES
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.elbo import elbo
from vaelab.objectives.iwae import iwae_bound
from vaelab.objectives.result import ObjectiveValue

Objective = Callable[..., ObjectiveValue]


def make_objective(name: str, samples: int) -> Callable[
    [LatentVariableModel, torch.Tensor, float], ObjectiveValue
]:
    """objective(model, x, kl_weight) for a named objective with `samples` draws per example.

    "-stl" and "-dreg" are lower-variance gradient estimators of the same bounds. The IWAE
    bound has no separate KL term, so KL warm-up does not apply to it. The loop that trains
    with them checks its data once, up front, so they skip the estimators' check of x's values.
    """
    if name == "elbo":
        return lambda model, x, kl_weight: elbo(model, x, samples, kl_weight, check_input=False)
    if name == "elbo-stl":
        return lambda model, x, kl_weight: elbo(model, x, samples, kl_weight,
                                                stop_guide_gradient=True, check_input=False)
    gradient = {"iwae": "standard", "iwae-dreg": "dreg", "iwae-stl": "stl"}.get(name)
    if gradient is not None:
        bound = partial(iwae_bound, samples=samples, gradient=gradient, check_input=False)
        return lambda model, x, kl_weight: bound(model, x)
    raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
