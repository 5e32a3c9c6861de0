"""Bidirectional Monte Carlo (Grosse, Ghahramani & Adams 2015): a bracket on log p(x).

For data simulated from the model, z* ~ p(z), x ~ p(x | z*), the latent z* is an exact sample of
the posterior p(z | x). Two runs of annealed importance sampling along the same path f_β(z) =
log p(z) + β log p(x | z) (`vaelab.objectives.ais`, same HMC transitions and schedule) then
bracket log p(x):

- forward AIS, from the prior (β = 0) to the posterior (β = 1): its mean weight is unbiased for
  p(x), so log of it is a stochastic lower bound on log p(x);
- reverse AIS, started at z* and annealed from the posterior back to the prior: its mean weight
  is unbiased for 1 / p(x), so minus log of it is a stochastic upper bound.

Both bounds tighten as annealing steps are added; their gap bounds the error of either, and of
any estimator that lands between them, on such data. What the bracket does not prove: it holds
for data simulated from the model only — a real test image has no exact posterior sample to start
the reverse chain, and an estimator accurate on the model's own samples may be worse on data the
model fits less well (Wu et al. 2017 validate their AIS this way, then use forward AIS alone on
real data). The bounds hold in expectation: per example up to Monte-Carlo noise, and for means
over examples up to their standard errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from vaelab.models.base import Latents, LatentVariableModel
from vaelab.objectives.ais import AISSchedule, anneal, annealed_importance_sampling, chain_average
from vaelab.objectives.inputs import check_observations
from vaelab.objectives.marginal import MarginalEstimate


@dataclass(frozen=True)
class Bracket:
    """Per-example stochastic bounds lower ≤ log p(x) ≤ upper (nats) after `steps` annealing steps."""

    lower: torch.Tensor
    upper: torch.Tensor
    steps: int

    @property
    def width(self) -> torch.Tensor:
        """upper − lower per example: how far either bound can be from log p(x)."""
        return self.upper - self.lower


@torch.no_grad()
def simulate(model: LatentVariableModel, n: int) -> tuple[torch.Tensor, Latents]:
    """n examples from the model with their latents: z* ~ p(z), x ~ p(x | z*) (torch's global
    generator; seed it for a fixed draw)."""
    if n < 1:
        raise ValueError(f"BDMC needs at least one simulated example, got {n}")
    z = model.prior_sample((n,))
    return model.sample_observations(z), z


def _repeat(z: Latents, chains: int) -> Latents:
    """Latents [B, ...] as [chains, B, ...]: every chain starts at the same point."""
    if isinstance(z, tuple):
        return tuple(part.unsqueeze(0).expand(chains, *part.shape) for part in z)
    return z.unsqueeze(0).expand(chains, *z.shape)


def reverse_annealed_importance_sampling(
    model: LatentVariableModel,
    x: torch.Tensor,
    posterior_sample: Latents,
    chains: int = 1,
    schedule: AISSchedule | None = None,
    on_step: Callable[[int], None] | None = None,
) -> MarginalEstimate:
    """Stochastic upper bound on log p(x) per example: AIS from an exact posterior sample
    `posterior_sample` of each x (latents [B, ...]) back to the prior, `chains` chains each;
    `log_px` is −log of the mean reverse weight. Valid only when the start is exact."""
    check_observations(model, x)
    schedule = schedule or AISSchedule()
    if chains < 1:
        raise ValueError(f"reverse AIS needs chains >= 1, got {chains}")
    log_w = anneal(model, x, _repeat(posterior_sample, chains), schedule.betas(x.device).flip(0),
                   schedule, on_step)
    inverse = chain_average(log_w)
    return MarginalEstimate(log_px=-inverse.log_px, ess=inverse.ess)


def bidirectional_monte_carlo(
    model: LatentVariableModel,
    x: torch.Tensor,
    z_true: Latents,
    chains: int = 1,
    schedule: AISSchedule | None = None,
    on_step: Callable[[int], None] | None = None,
) -> Bracket:
    """Forward and reverse AIS on simulated `x` whose latents `z_true` are known (see `simulate`):
    a stochastic lower and upper bound on each log p(x)."""
    schedule = schedule or AISSchedule()
    lower = annealed_importance_sampling(model, x, chains, schedule, on_step).log_px
    upper = reverse_annealed_importance_sampling(model, x, z_true, chains, schedule, on_step).log_px
    return Bracket(lower=lower, upper=upper, steps=schedule.steps)


__all__ = ["Bracket", "bidirectional_monte_carlo", "reverse_annealed_importance_sampling", "simulate"]
