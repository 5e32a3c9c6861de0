"""Inference and sampling pipelines for a trained state-space model, kept apart from training.

Each is a plain loop over time a reader can follow: run the guide along the mean path (the
filtering posterior of the probe), roll the transition forward from an inferred state (open-loop
prediction), or draw whole new sequences from the prior (generation).
"""

from __future__ import annotations

import torch

from vaelab.models.ssm import SequenceBatch, StateSpaceModel, guide_step


@torch.no_grad()
def posterior_means(model: StateSpaceModel, batch: SequenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and standard deviations [B, T, d] of q(z_t | z_{t−1}, h_t) along the mean path
    z_{t−1} = E_q[z_{t−1}]. With a forward summarizer (guide "filter") h_t sees only x_{≤t}: these
    are filtering estimates; with a backward one they are smoothing estimates."""
    h = model.summarize(batch)
    observed = batch.mask.to(h.dtype)
    means, scales = [], []
    z_prev: torch.Tensor | None = None
    for t in range(batch.length):
        _, q = guide_step(model, z_prev, h[:, t], batch.actions[:, t], observed[:, t])
        means.append(q.mean)
        scales.append(q.stddev)
        z_prev = q.mean
    return torch.stack(means, 1), torch.stack(scales, 1)


@torch.no_grad()
def filtering_means(model: StateSpaceModel, batch: SequenceBatch) -> torch.Tensor:
    """Means [B, T, d] of the filtering distribution q(z_t | x_{≤t}) at every step.

    A forward guide gives them in one pass. A smoothing guide is run on each prefix x_{1:t} and
    its last step kept — the smoother's marginal at the end of what it has seen is a filter —
    which costs T passes of growing length.
    """
    if model.summarizer.direction == "forward":
        return posterior_means(model, batch)[0]
    steps = [posterior_means(model, batch.window(0, t))[0][:, -1] for t in range(1, batch.length + 1)]
    return torch.stack(steps, 1)


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
    means, _ = posterior_means(model, batch.window(0, context))
    z = rollout(model, means[:, -1], batch.actions[:, context:])
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
