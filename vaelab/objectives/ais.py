"""Annealed importance sampling (Neal 2001) for log p(x) of decoder-based models.

An estimator independent of the guide (Wu et al. 2017): move chains z from the prior p(z)
to the posterior p(z | x) through the geometric path f_β(z) = log p(z) + β log p(x | z),
0 = β_0 < ... < β_T = 1, with Hamiltonian Monte Carlo transitions; the weights accumulate
Σ_t (β_t − β_{t−1}) log p(x | z_{t−1}). The mean weight is unbiased for p(x), so log of the
chain average is a stochastic lower bound that tightens with more steps. Agreement with
importance sampling through q is evidence that both are right.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vaelab.models.base import LatentVariableModel
from vaelab.objectives.inputs import check_observations
from vaelab.objectives.marginal import MarginalEstimate


@dataclass(frozen=True)
class AISSchedule:
    """Steps of the annealing path and the HMC kernel used at each step."""

    steps: int = 500
    leapfrog_steps: int = 10
    initial_step_size: float = 0.05
    target_acceptance: float = 0.65

    def __post_init__(self) -> None:
        if self.steps < 1 or self.leapfrog_steps < 1 or not self.initial_step_size > 0:
            raise ValueError("AIS needs steps >= 1, leapfrog_steps >= 1 and step size > 0")

    def betas(self, device: torch.device) -> torch.Tensor:
        """A sigmoidal schedule from 0 to 1 (denser at both ends, Wu et al. 2017)."""
        t = torch.linspace(-4.0, 4.0, self.steps + 1, dtype=torch.float64, device=device)
        s = torch.sigmoid(t)
        return ((s - s[0]) / (s[-1] - s[0])).float()


def _flatten(z: torch.Tensor | tuple[torch.Tensor, ...], lead: int) -> torch.Tensor:
    parts = z if isinstance(z, tuple) else (z,)
    return torch.cat([p.reshape(*p.shape[:lead], -1) for p in parts], dim=-1)


def _unflatten(flat: torch.Tensor, like: torch.Tensor | tuple[torch.Tensor, ...], lead: int):
    parts = like if isinstance(like, tuple) else (like,)
    out, start = [], 0
    for p in parts:
        size = math.prod(p.shape[lead:])
        out.append(flat[..., start:start + size].reshape(*flat.shape[:lead], *p.shape[lead:]))
        start += size
    return tuple(out) if isinstance(like, tuple) else out[0]


def annealed_importance_sampling(
    model: LatentVariableModel,
    x: torch.Tensor,
    chains: int = 16,
    schedule: AISSchedule | None = None,
    on_step: Callable[[int], None] | None = None,
) -> MarginalEstimate:
    """Per-example AIS estimate of log p(x) (nats) with `chains` independent chains;
    `on_step(1)` after each annealing step (a caller's progress bar).

    The returned ESS is that of the final chain weights. Step sizes adapt per chain and
    example towards the target HMC acceptance rate (a valid choice: each transition still
    leaves its own intermediate distribution invariant).
    """
    check_observations(model, x)
    schedule = schedule or AISSchedule()
    if chains < 1:
        raise ValueError(f"AIS needs chains >= 1, got {chains}")
    start = model.prior_sample((chains, x.shape[0]))
    log_w = anneal(model, x, start, schedule.betas(x.device), schedule, on_step)
    return chain_average(log_w)


def chain_average(log_w: torch.Tensor) -> MarginalEstimate:
    """log of the mean chain weight per example, from log-weights [chains, B], with the ESS."""
    log_px = torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
    weights = torch.softmax(log_w, 0)
    return MarginalEstimate(log_px=log_px.float(), ess=(1.0 / (weights**2).sum(0)).float())


def anneal(
    model: LatentVariableModel,
    x: torch.Tensor,
    start: torch.Tensor | tuple[torch.Tensor, ...],
    betas: torch.Tensor,
    schedule: AISSchedule,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Move chains from `start` (latents [chains, B, ...]) along f_β(z) = log p(z) + β log p(x | z)
    for β = betas[0], ..., betas[-1] with one HMC transition per step; the chains' log-weights
    Σ_t (β_t − β_{t−1}) log p(x | z_{t−1}), [chains, B] in float64.

    From the prior (betas 0 → 1) the mean weight estimates p(x); from an exact posterior sample
    (betas 1 → 0, reverse AIS) it estimates 1 / p(x) (Grosse et al. 2015).
    """
    template = start
    chains, batch = _flatten(start, 2).shape[:2]
    z = _flatten(template, 2).detach()  # [chains, B, D]
    step = torch.full((chains, batch, 1), schedule.initial_step_size, device=x.device)
    log_w = torch.zeros(chains, batch, device=x.device, dtype=torch.float64)

    def parts(z_flat: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log target, log-likelihood, gradient of the log target) at z."""
        with torch.enable_grad():
            z_flat = z_flat.detach().requires_grad_(True)
            latents = _unflatten(z_flat, template, 2)
            log_lik = model.log_likelihood(x, latents)
            target = model.log_prior(latents) + beta * log_lik
            (grad,) = torch.autograd.grad(target.sum(), z_flat)
        return target.detach(), log_lik.detach(), grad

    with torch.no_grad():
        _, log_lik, _ = parts(z, float(betas[0]))
        for t in range(1, betas.shape[0]):
            beta = float(betas[t])
            log_w += (beta - float(betas[t - 1])) * log_lik.double()
            target, log_lik_now, grad = parts(z, beta)
            momentum = torch.randn_like(z)
            energy = -target + 0.5 * (momentum**2).sum(-1)
            z_new, p_new = z, momentum + 0.5 * step * grad
            for leap in range(schedule.leapfrog_steps):
                z_new = z_new + step * p_new
                target_new, log_lik_new, grad_new = parts(z_new, beta)
                if leap < schedule.leapfrog_steps - 1:
                    p_new = p_new + step * grad_new
            p_new = p_new + 0.5 * step * grad_new
            energy_new = -target_new + 0.5 * (p_new**2).sum(-1)
            accept_prob = torch.exp((energy - energy_new).clamp(max=0.0)).nan_to_num(0.0)
            accept = torch.rand_like(accept_prob) < accept_prob
            z = torch.where(accept.unsqueeze(-1), z_new, z)
            log_lik = torch.where(accept, log_lik_new, log_lik_now)
            step = step * torch.where(accept_prob.unsqueeze(-1) > schedule.target_acceptance,
                                      1.02, 0.98)
            if on_step is not None:
                on_step(1)
    return log_w
