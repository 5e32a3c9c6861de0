"""Training objectives by name, so a config can say `objective = "iwae"` and `samples = 5`.

Each objective a config names is a small class registered in `vaelab.components.objectives`:
it declares its `name`, is built with the number of samples per example, and is called as
objective(model, x, kl_weight) -> ObjectiveValue. "-stl" and "-dreg" are lower-variance gradient
estimators of the same bounds. The IWAE bound has no separate KL term, so KL warm-up does not
apply to it, nor do free bits. The loop that trains with them checks its data once, up front, so they skip the
estimators' check of x's values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from vaelab import components
from vaelab.choices import OBJECTIVES as OBJECTIVES
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.elbo import elbo
from vaelab.objectives.iwae import iwae_bound
from vaelab.objectives.result import ObjectiveValue

Objective = Callable[..., ObjectiveValue]


@dataclass(frozen=True)
class ELBOObjective:
    """The ELBO with `samples` draws of z per example (Kingma & Welling 2014)."""

    name: ClassVar[str] = "elbo"
    #: gradient of the guide's entropy term through z only (sticking the landing)
    stop_guide_gradient: ClassVar[bool] = False
    samples: int
    #: λ nats: the loss floors the batch-mean KL at λ (free bits, Kingma et al. 2016); 0 = off
    free_bits: float = 0.0
    #: NVAE's KL balancing across latent groups while the KL is warmed up
    kl_balance: bool = False

    def __call__(self, model: LatentVariableModel, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
        return elbo(model, x, self.samples, kl_weight, stop_guide_gradient=self.stop_guide_gradient,
                    free_bits=self.free_bits, balance=self.kl_balance, check_input=False)


@dataclass(frozen=True)
class STLELBOObjective(ELBOObjective):
    """The ELBO with the sticking-the-landing gradient (Roeder et al. 2017)."""

    name: ClassVar[str] = "elbo-stl"
    stop_guide_gradient: ClassVar[bool] = True


@dataclass(frozen=True)
class IWAEObjective:
    """The IWAE bound with `samples` importance samples per example (Burda et al. 2016)."""

    name: ClassVar[str] = "iwae"
    #: how the guide's gradient is estimated: "standard", "dreg" (Tucker et al. 2019) or "stl"
    gradient: ClassVar[str] = "standard"
    samples: int

    def __call__(self, model: LatentVariableModel, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
        return iwae_bound(model, x, samples=self.samples, gradient=self.gradient, check_input=False)


@dataclass(frozen=True)
class DReGIWAEObjective(IWAEObjective):
    """The IWAE bound with doubly reparameterised gradients for the guide (Tucker et al. 2019)."""

    name: ClassVar[str] = "iwae-dreg"
    gradient: ClassVar[str] = "dreg"


@dataclass(frozen=True)
class STLIWAEObjective(IWAEObjective):
    """The IWAE bound with the sticking-the-landing gradient for the guide."""

    name: ClassVar[str] = "iwae-stl"
    gradient: ClassVar[str] = "stl"


def make_objective(name: str, samples: int, free_bits: float = 0.0, kl_balance: bool = False) -> Callable[
    [LatentVariableModel, torch.Tensor, float], ObjectiveValue
]:
    """objective(model, x, kl_weight) for the objective registered as `name` with `samples`
    draws per example; `free_bits` λ > 0 floors its KL term per latent group and `kl_balance`
    balances the groups' KLs during warm-up (an objective with those fields: elbo, elbo-stl; the
    IWAE bound has no KL term and refuses them)."""
    cls = components.objectives.get(name)
    if not free_bits and not kl_balance:
        objective: Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue] = cls(samples)
        return objective
    fields = getattr(cls, "__dataclass_fields__", {})
    for setting, value, verb in (("free_bits", free_bits, "floor"), ("kl_balance", kl_balance, "balance")):
        if value and setting not in fields:
            raise ValueError(f"{setting}: the objective {name!r} has no KL term to {verb}; "
                             f"{setting.replace('_', ' ')} applies to the ELBO (elbo, elbo-stl)")
    options = {"free_bits": free_bits} if free_bits else {}
    if kl_balance:
        options["kl_balance"] = True
    return cls(samples, **options)  # type: ignore[no-any-return]
