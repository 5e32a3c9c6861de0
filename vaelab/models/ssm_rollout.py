"""Inference and sampling pipelines for a trained state-space model, kept apart from training.

Each is a plain loop over time a reader can follow: run the guide along the mean path (the
filtering posterior of the probe), roll the transition forward from an inferred state (open-loop
prediction), or draw whole new sequences from the prior (generation).
"""

from __future__ import annotations

from typing import Final

import torch

from vaelab.data.sequences import SequenceBatch
from vaelab.models.ssm import StateSpaceModel, guide_step


@torch.no_grad()
def posterior_means(model: StateSpaceModel, batch: SequenceBatch, z_start: torch.Tensor | None = None,
                    h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and standard deviations [B, T, d] of q(z_t | z_{t−1}, h_t) along the mean path
    z_{t−1} = E_q[z_{t−1}]. With a forward summarizer (guide "filter") h_t sees only x_{≤t}: these
    are filtering estimates; with a backward one they are smoothing estimates. `z_start` [B, d] is
    the state before the batch's first frame (None: the batch starts the sequence); `h` replaces
    the guide's summaries of the batch (default `model.summarize(batch)`)."""
    h = model.summarize(batch) if h is None else h
    observed = batch.mask.to(h.dtype)
    means, scales = [], []
    z_prev = z_start
    for t in range(batch.length):
        _, q = guide_step(model, z_prev, h[:, t], batch.actions[:, t], observed[:, t])
        means.append(q.mean)
        scales.append(q.stddev)
        z_prev = q.mean
    return torch.stack(means, 1), torch.stack(scales, 1)


#: the last frames a smoothing guide is re-run over at each step when it filters (see filtering_means)
FILTER_LAG: Final = 5


@torch.no_grad()
def filtering_means(model: StateSpaceModel, batch: SequenceBatch,
                    lag: int | None = FILTER_LAG) -> torch.Tensor:
    """Means [B, T, d] of the filtering distribution q(z_t | x_{≤t}) at every step.

    A forward guide gives them in one pass. A smoothing guide, cut after frame t, gives q(z_t | x_{≤t})
    at its last step, but re-smooths the whole past on the way: exact (`lag=None`) is T passes of
    growing length. Instead it filters online — q(z_t | z_{t−1}, h_t) from the previous filtered
    mean, with h_t the summary of the sequence cut after frame t (`lag` 0 or 1) — and, with `lag`
    = L, re-runs the guide over the last L frames t−L+1..t from the online state before them
    (the L−1 frames before t re-smoothed), O(T·L). On the default pendulum the probe's ω R² is
    0.9957 online, 0.9980 at L = 5 and 0.9980 exact (8× slower: 61 s against 7.5 s for 200
    sequences).
    """
    if lag is not None and lag < 0:
        raise ValueError(f"lag must be >= 0 frames or None (exact), got {lag}")
    if model.summarizer.direction != "backward":
        return posterior_means(model, batch)[0]
    online = None if lag is None else _online_filter(model, batch)
    if online is not None and lag is not None and lag <= 1:
        return online
    steps = []
    for t in range(batch.length):
        start = 0 if lag is None else max(0, t + 1 - lag)
        z_start = None if start == 0 or online is None else online[:, start - 1]
        steps.append(posterior_means(model, batch.window(start, t + 1), z_start)[0][:, -1])
    return torch.stack(steps, 1)


def _online_filter(model: StateSpaceModel, batch: SequenceBatch) -> torch.Tensor:
    h = model.summarizer.at_end(model.encoder(batch.frames), batch.actions, batch.mask)
    return posterior_means(model, batch, h=h)[0]


@torch.no_grad()
def filtered_state(model: StateSpaceModel, batch: SequenceBatch) -> torch.Tensor:
    """The mean [B, d] of q(z_T | x_{≤T}) after the batch's last frame, exact for any guide: the
    guide's last step has seen every frame and there is none after it. Where a rollout starts."""
    return posterior_means(model, batch)[0][:, -1]


def _draw(distribution: torch.distributions.Distribution, generator: torch.Generator | None) -> torch.Tensor:
    loc = distribution.mean
    noise = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
    return loc + distribution.stddev * noise


@torch.no_grad()
def rollout(
    model: StateSpaceModel,
    z_start: torch.Tensor,
    actions: torch.Tensor,
    sample: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """States z_{s+1..s+H} [B, H, d] from z_s [B, d] under actions [B, H, a]: the transition's mean
    (open-loop prediction) or, with `sample`, draws from p(z_t | z_{t−1}, u_t)."""
    z = z_start
    states = []
    for t in range(actions.shape[1]):
        if sample:
            z = _draw(model.transition(z, actions[:, t]), generator)
        else:
            z = model.transition_mean(z, actions[:, t])
        states.append(z)
    return torch.stack(states, 1)


@torch.no_grad()
def predict(model: StateSpaceModel, batch: SequenceBatch, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Filter the first `context` frames, then roll the prior's mean forward under the observed
    actions for the rest: predicted mean frames [B, T − context, C, H, W] and their states."""
    if not 1 <= context < batch.length:
        raise ValueError(f"context must be in [1, {batch.length - 1}] frames, got {context}")
    z = rollout(model, filtered_state(model, batch.window(0, context)), batch.actions[:, context:])
    return model.emit_mean(z), z


@torch.no_grad()
def reconstruct(model: StateSpaceModel, batch: SequenceBatch) -> torch.Tensor:
    """E[x_t | z_t] at the posterior means: [B, T, C, H, W]."""
    means, _ = posterior_means(model, batch)
    return model.emit_mean(means)


@torch.no_grad()
def generate(
    model: StateSpaceModel,
    actions: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """New sequences from scratch under actions [N, T, a]: z_1 ~ p(z_1), z_t ~ p(z_t | z_{t−1}, u_t);
    returns the mean frames E[x_t | z_t] [N, T, C, H, W] and the states [N, T, d]."""
    z = _draw(model.initial_prior((actions.shape[0],)), generator)
    states = torch.cat([z[:, None], rollout(model, z, actions[:, 1:], sample=True, generator=generator)], 1)
    return model.emit_mean(states), states
