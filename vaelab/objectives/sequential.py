"""Objectives for state-space models: the sequential ELBO and its importance-weighted form.

With z_{1:T} ~ q(z_{1:T} | x, u) = Π_t q(z_t | z_{t−1}, h_t) drawn step by step (reparameterised):

    ELBO = Σ_t E_q[ m_t log p(x_t | z_t) − KL(q(z_t | z_{t−1}, h_t) ‖ p(z_t | z_{t−1}, u_t)) ]

(Krishnan et al. 2017, eq. 6; the KL at step t is analytic given the sampled z_{t−1}; m_t = 0
for a dropped frame). The IWAE form (Burda et al. 2016) weighs whole sequences:
log w = Σ_t [m_t log p(x_t | z_t) + log p(z_t | z_{t−1}, u_t) − log q(z_t | z_{t−1}, h_t)],
IWAE_k = log (1/k) Σ_i w_i ≤ log p(x_{1:T} | u_{1:T}).
All are functions of (model, batch); the loop over time is written out in `sample_trajectory`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.distributions import Independent, kl_divergence

from vaelab.data.sequences import SequenceBatch
from vaelab.models.ssm import StateSpaceModel, guide_step
from vaelab.objectives.marginal import DEFAULT_SAMPLE_BUDGET, MarginalEstimate, streaming_log_mean_exp
from vaelab.objectives.result import ObjectiveValue


@dataclass(frozen=True)
class Trajectory:
    """One draw z_{1:T} ~ q per sequence (per sample), with the per-step terms of the bounds.

    z [*, B, T, d]; kl [*, B, T, d] (analytic, per latent dimension); log_q, log_prior [*, B, T]
    (log q(z_t | ·) and log p(z_t | z_{t−1}, u_t) at the draw; only when asked for).
    """

    z: torch.Tensor
    kl: torch.Tensor | None
    log_q: torch.Tensor | None
    log_prior: torch.Tensor | None


def _kl_per_dim(q: torch.distributions.Distribution, p: torch.distributions.Distribution) -> torch.Tensor:
    assert isinstance(q, Independent) and isinstance(p, Independent)
    return kl_divergence(q.base_dist, p.base_dist)


def sample_trajectory(
    model: StateSpaceModel,
    batch: SequenceBatch,
    samples: int | None = None,
    with_kl: bool = True,
    with_log_probs: bool = False,
    summary: torch.Tensor | None = None,
) -> Trajectory:
    """Draw z_{1:T} from the guide, one step at a time: `samples` draws [k, B, ...] or one [B, ...].

    `summary` is model.summarize(batch) when the caller has it already (it is the same for every
    draw).
    """
    h = model.summarize(batch) if summary is None else summary
    size = batch.size
    lead = () if samples is None else (samples,)
    observed = batch.mask.to(h.dtype)
    zs, kls, log_qs, log_ps = [], [], [], []
    z_prev: torch.Tensor | None = None
    for t in range(batch.length):
        prior, q = guide_step(model, z_prev, h[:, t].expand(*lead, size, -1),
                              batch.actions[:, t].expand(*lead, size, -1), observed[:, t].expand(*lead, size))
        z = q.rsample()
        zs.append(z)
        if with_kl:
            kls.append(_kl_per_dim(q, prior))
        if with_log_probs:
            log_qs.append(q.log_prob(z))
            log_ps.append(prior.log_prob(z))
        z_prev = z
    stack = lambda xs: torch.stack(xs, -2) if xs else None  # noqa: E731  [*, B, T, d]
    stack_t = lambda xs: torch.stack(xs, -1) if xs else None  # noqa: E731  [*, B, T]
    return Trajectory(z=torch.stack(zs, -2), kl=stack(kls), log_q=stack_t(log_qs),
                      log_prior=stack_t(log_ps))


def emission_log_prob(model: StateSpaceModel, z: torch.Tensor, batch: SequenceBatch) -> torch.Tensor:
    """m_t log p(x_t | z_t) for z [*, B, T, d]: [*, B, T] (0 where a frame was dropped)."""
    log_px = model.emit(z).log_prob(batch.frames)
    return log_px * batch.mask.to(log_px.dtype)


def sequential_elbo(
    model: StateSpaceModel,
    batch: SequenceBatch,
    samples: int = 1,
    kl_weight: float = 1.0,
    free_bits: float = 0.0,
) -> ObjectiveValue:
    """The sequential ELBO per sequence (nats), averaged over `samples` draws.

    The loss is per frame: −(E[log p(x | z)] − β Σ_{t,d} max(λ, KL_{t,d})) / T, where β =
    `kl_weight` (KL warm-up) and λ = `free_bits` nats per step and latent dimension, the KL
    averaged over the batch first (Kingma et al. 2016). Neither changes the reported bound.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    trajectory = sample_trajectory(model, batch, None if samples == 1 else samples)
    assert trajectory.kl is not None
    reconstruction = emission_log_prob(model, trajectory.z, batch).sum(-1)  # [*, B]
    kl = trajectory.kl.sum((-1, -2))  # [*, B]
    bound = reconstruction - kl
    if samples > 1:
        reconstruction, kl, bound = reconstruction.mean(0), kl.mean(0), bound.mean(0)
    if free_bits > 0:
        per_step = trajectory.kl.reshape(-1, *trajectory.kl.shape[-2:]).mean(0)  # [T, d]
        kl_loss = per_step.clamp_min(free_bits).sum()
    else:
        kl_loss = kl.mean()
    steps = batch.length
    loss = (kl_weight * kl_loss - reconstruction.mean()) / steps
    frames = batch.mask.sum(-1).clamp_min(1).to(bound.dtype)
    return ObjectiveValue(
        loss=loss,
        bound=bound.detach(),
        terms={"reconstruction_per_frame": (reconstruction.detach() / steps).mean(),
               "kl_per_frame": (kl.detach() / steps).mean(),
               "bound_per_frame": (bound.detach() / frames).mean()},
    )


def sequence_log_weights(model: StateSpaceModel, batch: SequenceBatch, k: int,
                         summary: torch.Tensor | None = None) -> torch.Tensor:
    """log w_i = log p(x_{1:T}, z^i_{1:T} | u) − log q(z^i_{1:T} | x, u) for k draws: [k, B]."""
    trajectory = sample_trajectory(model, batch, k, with_kl=False, with_log_probs=True, summary=summary)
    assert trajectory.log_q is not None and trajectory.log_prior is not None
    log_px = emission_log_prob(model, trajectory.z, batch)
    return (log_px + trajectory.log_prior - trajectory.log_q).sum(-1)


def sequential_iwae_bound(model: StateSpaceModel, batch: SequenceBatch, samples: int = 5) -> ObjectiveValue:
    """IWAE_k over whole sequences, per sequence (nats); as a loss, per frame."""
    if samples < 1:
        raise ValueError(f"IWAE needs samples >= 1, got {samples}")
    log_w = sequence_log_weights(model, batch, samples)
    bound = torch.logsumexp(log_w, 0) - math.log(samples)
    weights = torch.softmax(log_w.detach(), 0)
    frames = batch.mask.sum(-1).clamp_min(1).to(bound.dtype)
    return ObjectiveValue(
        loss=-bound.mean() / batch.length,
        bound=bound.detach(),
        terms={"bound_per_frame": (bound.detach() / frames).mean(),
               "ess": (1.0 / (weights**2).sum(0)).mean()},
    )


@torch.no_grad()
def sequential_log_marginal(
    model: StateSpaceModel,
    batch: SequenceBatch,
    k: int = 100,
    sample_budget: int = DEFAULT_SAMPLE_BUDGET,
    on_chunk: Callable[[int], None] | None = None,
) -> MarginalEstimate:
    """log p(x_{1:T} | u_{1:T}) ≈ log (1/k) Σ_i w_i per sequence (the IWAE_k bound), streamed in
    chunks of about `sample_budget` decoded frames; `on_chunk(c)` after each chunk of c draws."""
    summary = model.summarize(batch)
    chunk = max(1, sample_budget // max(1, batch.size * batch.length))
    return streaming_log_mean_exp(lambda c: sequence_log_weights(model, batch, c, summary), k, chunk,
                                  on_chunk)
