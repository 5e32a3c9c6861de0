"""L[q*_flow]: the ELBO of a normalizing flow fitted to each example's posterior, starting from the
amortized guide (Cremer, Li & Duvenaud 2018, their L[q*_AF]).

q*_flow(z | x) is the law of z = T_K ∘ … ∘ T_1(ε), ε ~ q_η(z | x), the run's own guide family
with per-example parameters η (`vaelab.objectives.local_guide.local_guide`), started at the
encoder's η(x), and T_k planar steps (Rezende & Mohamed 2015) with their own per-example
parameters, started at the identity (û = 0). η and every step's (u, w, b) are optimised together
by Adam, the model's weights fixed; the fit starts at L[q] and can only add to what the family's
own q* reaches, so L[q*_flow] − L[q*] says how much of the approximation gap log p(x) − L[q*] a
richer family recovers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.distributions import Distribution, TransformedDistribution

from vaelab.distributions.flows import PlanarTransform
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.inputs import check_observations
from vaelab.objectives.local_guide import (
    LocalOptimum,
    check_fit_settings,
    evaluating,
    fit_per_example,
    local_guide,
)

#: the flow families a per-example fit knows ("planar:K")
LOCAL_FLOWS = ("planar",)

#: a = log(e − 1) solves softplus(a) − 1 − a = −a: with wᵀu = a the planar step's û is 0
_IDENTITY_WU = math.log(math.e - 1.0)


def parse_local_flow(spec: object) -> tuple[str, int]:
    """("planar", K) from "planar:K"; an unknown family or a K that is not an integer >= 1 is
    one ValueError."""
    name, colon, steps = spec.partition(":") if isinstance(spec, str) else (repr(spec), "", "")
    if name not in LOCAL_FLOWS:
        raise ValueError(f"unknown flow family {spec!r} for L[q*_flow]; choose "
                         f"{', '.join(f'{n}:K' for n in LOCAL_FLOWS)} (K >= 1 steps per example)")
    if not colon or not steps.strip().isdigit() or int(steps) < 1:
        raise ValueError(f"flow family {spec!r} for L[q*_flow]: the number of steps K must be an "
                         f"integer >= 1, e.g. {name}:8")
    return name, int(steps)


def identity_planar_steps(batch: int, steps: int, dim: int, like: torch.Tensor,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """(u, w, b) of `steps` planar steps per example, [B, K, d], [B, K, d], [B, K], each step the
    identity: w random (N(0, 1/d)), u = a w / ‖w‖² with a = log(e − 1), so that û = 0, b = 0."""
    w = torch.randn(batch, steps, dim, generator=generator, dtype=like.dtype) / dim**0.5
    w = w.to(like.device)
    u = _IDENTITY_WU * w / (w * w).sum(-1, keepdim=True)
    return u, w, like.new_zeros(batch, steps)


def planar_on(base: Distribution, u: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> Distribution:
    """The base distribution (batch [B], event [d]) pushed through K planar steps with
    per-example parameters u, w [B, K, d] and b [B, K]."""
    transforms = [PlanarTransform(u[:, k], w[:, k], b[:, k]) for k in range(u.shape[1])]
    return TransformedDistribution(base, transforms, validate_args=False)


def optimized_flow_elbo(model: LatentVariableModel, x: torch.Tensor, flow: str = "planar:8",
                        steps: int = 500, lr: float = 1e-2, samples: int = 16,
                        eval_samples: int = 1000, tolerance: float = 0.05) -> LocalOptimum:
    """Fit q*_flow per example (module docstring): the guide's η from the encoder's and `flow`'s
    steps from the identity, by Adam as `optimized_elbo` does (same steps, rate, draws and
    convergence test). `amortized` is the ELBO at the start (the amortized guide itself),
    `optimized` L[q*_flow]; both [B], nats."""
    _, flow_steps = parse_local_flow(flow)
    check_fit_settings(steps, lr, samples, eval_samples)
    check_observations(model, x)
    with evaluating(model), torch.no_grad():
        guide = local_guide(model, x)
        eta = guide.eta.detach()
        event = guide.family(eta).event_shape
    if len(event) != 1:
        raise ValueError(f"a flow fitted per example needs a latent vector (event shape (d,)), "
                         f"got event shape {tuple(event)}")
    u, w, b = identity_planar_steps(x.shape[0], flow_steps, event[0], eta)

    def family(params: Sequence[torch.Tensor]) -> Distribution:
        return planar_on(guide.family(params[0]), *params[1:])

    return fit_per_example(model, x, (eta, u, w, b), family, steps, lr, samples, eval_samples,
                           tolerance)


__all__ = ["LOCAL_FLOWS", "identity_planar_steps", "optimized_flow_elbo", "parse_local_flow",
           "planar_on"]
