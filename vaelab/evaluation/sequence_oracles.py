"""Where open-loop prediction fails: the model's pieces swapped one at a time for the truth.

A physics state-space model predicts by (1) filtering the context frames into a state, (2) rolling
its transition forward with the learned constants, (3) drawing each state with its emitter. Each
oracle below replaces some of these with the simulator's truth and reports the valid prediction
time, so a short prediction is traced to its cause:

- `emitter`: the true future states drawn by the learned emitter (is the renderer good enough?);
- `learned_transition`: the learned transition rolled from the true state at the end of the
  context (are the constants good enough?);
- `true_physics`: the simulator's physics rolled from the filtered state (is the state estimate
  good enough?);
- `model`: the model alone (filter, transition, emitter), for reference.

The latent is (cos θ̂, sin θ̂, ω̂) with θ̂ the angle from the image's downward axis, as the
keypoint guide measures it, so a true state (θ, ω) maps to (cos θ, sin θ, ω).
"""

from __future__ import annotations

import numpy as np
import torch

from vaelab.data.pendulum import PendulumConfig, SequenceSet
from vaelab.data.pendulum_physics import integrate
from vaelab.evaluation.sequence_metrics import MSE_THRESHOLD, batch_of, to_unit, valid_prediction_time
from vaelab.models.ssm import StateSpaceModel
from vaelab.models.ssm_rollout import filtered_state, rollout

ORACLES = ("model", "emitter", "learned_transition", "true_physics")


def _latent(theta: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    return torch.stack([theta.cos(), theta.sin(), omega], -1).float()


@torch.no_grad()
def prediction_oracles(
    model: StateSpaceModel,
    test: SequenceSet,
    physics: PendulumConfig,
    context: int = 10,
    sequences: int = 200,
    threshold: float = MSE_THRESHOLD,
) -> dict[str, float]:
    """Mean valid prediction time over the first `sequences` test sequences for each of ORACLES
    (see the module docstring); `physics` is the simulation config the test data came from."""
    if model.physical_constants() is None:
        raise ValueError("prediction oracles need a physics transition (latent (cos θ, sin θ, ω))")
    if not 1 <= context < test.length:
        raise ValueError(f"context must be in [1, {test.length - 1}] frames, got {context}")
    device = next(model.parameters()).device
    part = test.subset(slice(0, min(sequences, len(test))))
    batch = batch_of(part, model.data_kind, device=device)
    truth = part.frames[:, context:].float() / 255.0
    states = part.states.double()
    actions = batch.actions[:, context:]

    def score(z: torch.Tensor) -> float:
        frames = to_unit(model, model.emit_mean(z.to(device))).cpu()
        return float(valid_prediction_time(frames, truth, threshold).mean())

    filtered = filtered_state(model, batch.window(0, context))
    true_end = _latent(states[:, context - 1, 0], states[:, context - 1, 1]).to(device)
    theta = torch.atan2(filtered[:, 1], filtered[:, 0]).double().cpu().numpy()
    omega = filtered[:, 2].double().cpu().numpy()
    rolled = integrate(theta, omega, part.actions[:, context - 1:, 0].double().numpy(), physics.physics,
                       physics.dt, physics.substeps)[:, 1:]
    rolled_t = torch.from_numpy(np.ascontiguousarray(rolled))
    return {
        "model": score(rollout(model, filtered, actions)),
        "emitter": score(_latent(states[:, context:, 0], states[:, context:, 1])),
        "learned_transition": score(rollout(model, true_end, actions)),
        "true_physics": score(_latent(rolled_t[..., 0], rolled_t[..., 1])),
    }


__all__ = ["ORACLES", "prediction_oracles"]
