"""Sequential Monte Carlo (a particle filter) estimate of a state-space model's evidence.

Importance sampling over whole sequences (IWAE_k) degrades exponentially with the sequence
length: in T steps the k weights spread over many orders of magnitude and one draw dominates.
A particle filter proposes z_t ~ q(z_t | z_{t−1}, h_t) step by step, weighs each particle by
w_t = p(x_t | z_t) p(z_t | z_{t−1}, u_t) / q(z_t | z_{t−1}, h_t), and resamples the particles
whenever the weights degenerate, so draws whose past no longer fits the frames are dropped:

    Ẑ = Π_t Σ_i W^i_{t−1} w^i_t   (W: normalised weights carried from the last step),

an unbiased estimate of p(x_{1:T} | u_{1:T}), so E[log Ẑ] ≤ log p(x_{1:T} | u_{1:T}) (the FIVO
bound; Maddison et al. 2017, Naesseth et al. 2018, Le et al. 2018). Its variance grows about
linearly in T (Bérard et al. 2014), not exponentially: the estimator to compare models by
evidence on long sequences.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelab.data.sequences import SequenceBatch
from vaelab.models.ssm import StateSpaceModel, guide_step


def effective_sample_size(log_weights: torch.Tensor) -> torch.Tensor:
    """1 / Σ_i W_i² for normalised log weights [k, B]: [B], between 1 and k."""
    return 1.0 / torch.exp(2.0 * log_weights).sum(0)


def systematic_resample(log_weights: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Ancestor indices [k, B] drawn with probabilities exp(log_weights) [k, B] (normalised over k):
    one uniform per sequence, k evenly spaced points — lower variance than k independent draws."""
    k, size = log_weights.shape
    cdf = torch.softmax(log_weights, 0).T.contiguous().cumsum(-1)  # [B, k]
    start = torch.rand(size, 1, generator=generator, device=log_weights.device, dtype=cdf.dtype)
    points = (start + torch.arange(k, device=cdf.device, dtype=cdf.dtype)) / k  # [B, k]
    ancestors = torch.searchsorted(cdf, points * cdf[:, -1:]).clamp_max(k - 1)
    return ancestors.T  # [k, B]


@torch.no_grad()
def smc_log_marginal(
    model: StateSpaceModel,
    batch: SequenceBatch,
    particles: int = 100,
    resample_below: float = 0.5,
    generator: torch.Generator | None = None,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """log Ẑ per sequence [B] (nats) with `particles` particles proposed by the model's guide,
    resampled (systematically) whenever the effective sample size falls below `resample_below`
    · particles (1.0: every step; 0.0: never — then it is IWAE_k over whole sequences).
    `on_step(1)` is called after each time step (a caller's progress bar)."""
    if particles < 1:
        raise ValueError(f"a particle filter needs particles >= 1, got {particles}")
    if not 0.0 <= resample_below <= 1.0:
        raise ValueError(f"resample_below must be in [0, 1], got {resample_below}")
    h = model.summarize(batch)
    k, size = particles, batch.size
    observed = batch.mask.to(h.dtype)
    log_z = torch.zeros(size, dtype=torch.float64, device=h.device)
    log_weights = torch.full((k, size), -math.log(k), dtype=h.dtype, device=h.device)
    z_prev: torch.Tensor | None = None
    for t in range(batch.length):
        prior, q = guide_step(model, z_prev, h[:, t].expand(k, size, -1),
                              batch.actions[:, t].expand(k, size, -1), observed[:, t].expand(k, size))
        z = q.sample() if generator is None else _sample_with(q, generator)
        log_px = model.emit(z).log_prob(batch.frames[:, t]) * observed[:, t]
        log_weights = log_weights + log_px + prior.log_prob(z) - q.log_prob(z)
        step = torch.logsumexp(log_weights, 0)
        log_z += step.double()
        log_weights = log_weights - step
        if t + 1 < batch.length and resample_below > 0:
            resample = effective_sample_size(log_weights) < resample_below * k  # [B]
            if bool(resample.any()):
                ancestors = systematic_resample(log_weights, generator)
                keep = torch.arange(k, device=h.device).unsqueeze(1).expand(k, size)
                ancestors = torch.where(resample, ancestors, keep)
                z = z.gather(0, ancestors.unsqueeze(-1).expand_as(z))
                log_weights = torch.where(resample, torch.full_like(log_weights, -math.log(k)), log_weights)
        z_prev = z
        if on_step is not None:
            on_step(1)
    return log_z


def _sample_with(q: torch.distributions.Distribution, generator: torch.Generator) -> torch.Tensor:
    """A draw from a diagonal Gaussian guide with an explicit generator (torch.distributions has none)."""
    base = q.base_dist  # type: ignore[attr-defined]
    noise = torch.randn(base.loc.shape, generator=generator, device=base.loc.device, dtype=base.loc.dtype)
    return base.loc + base.scale * noise


__all__ = ["effective_sample_size", "smc_log_marginal", "systematic_resample"]
