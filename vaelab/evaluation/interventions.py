"""Interventions on the pendulum: do(u). A model that learned the law of motion should predict what
happens under a torque it never saw (one strong enough to hold the pendulum at an angle, or one
that pumps it over the top), not just continue the recorded motion.

For each test sequence: filter frames 1..context, roll the model's transition forward under the
imposed torque, and compare frame by frame with the simulator run from the true state under the
same torque (pixel MSE per step, valid prediction time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaelab.data.pendulum import SequenceSet
from vaelab.data.pendulum_config import PendulumConfig
from vaelab.data.pendulum_physics import imposed_torque, integrate
from vaelab.data.pendulum_render import Geometry, render
from vaelab.evaluation.sequence_metrics import batch_of, to_unit, valid_prediction_time
from vaelab.models.ssm import StateSpaceModel
from vaelab.models.ssm_rollout import filtered_state, rollout

TORQUE_FILE_SUFFIXES = (".npy", ".txt", ".csv")
#: torques the data never showed (training torques stay within ±2 rad/s²): a constant 5 rad/s²
#: holds the default pendulum near 31° (sin θ = 5 / 9.81), and a sine of 4 rad/s² at 0.5 Hz pumps
#: it near its natural frequency (√(g/L) / 2π ≈ 0.5 Hz)
STANDARD_INTERVENTIONS: tuple[str, ...] = ("constant:5", "sine:4,0.5")


def load_torque(spec: str, steps: int, dt: float) -> np.ndarray:
    """The imposed torque u_1..u_steps from a spec: "constant:V", "sine:A,F", "none", a list of
    values, or a file (.npy, or .txt/.csv with one number per line or comma-separated) holding
    exactly `steps` finite values. ValueError names what is wrong."""
    path = Path(spec)
    if path.suffix.lower() in TORQUE_FILE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise ValueError(f"torque file {path} does not exist")
        try:
            values = (np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy"
                      else np.loadtxt(path, delimiter="," if path.suffix.lower() == ".csv" else None))
        except (OSError, ValueError) as error:
            raise ValueError(f"torque file {path}: cannot read numbers from it ({error})") from error
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size != steps:
            raise ValueError(f"torque file {path} holds {values.size} values; the horizon is {steps} "
                             "steps (one torque per predicted frame)")
    else:
        values = imposed_torque(spec, steps, dt)
    if not np.isfinite(values).all():
        raise ValueError(f"torque {spec!r}: holds NaN or infinite values")
    return values


@dataclass(frozen=True)
class InterventionResult:
    """The model's frames and the simulator's under the same imposed torque, per sequence."""

    torque: np.ndarray            # [H]
    model_frames: torch.Tensor    # [N, H, 1, h, w] in [0, 1]
    truth_frames: torch.Tensor    # [N, H, 1, h, w] in [0, 1]
    truth_states: np.ndarray      # [N, H, 2] (θ, ω) of the simulator

    @property
    def mse(self) -> torch.Tensor:
        """Pixel MSE per sequence and step [N, H]."""
        return (self.model_frames - self.truth_frames).square().flatten(2).mean(-1)

    @property
    def valid_prediction_time(self) -> torch.Tensor:
        """Per sequence, the share of the horizon before the MSE first exceeds the threshold [N]."""
        return valid_prediction_time(self.model_frames, self.truth_frames)

    def summary(self) -> dict[str, float | list[float]]:
        vpt = self.valid_prediction_time.double()
        n = vpt.numel()
        return {"sequences": n, "valid_prediction_time": float(vpt.mean()),
                "valid_prediction_time_stderr": float(vpt.std() / math.sqrt(n)) if n > 1 else math.nan,
                "mse_per_step": self.mse.mean(0).tolist()}


@torch.no_grad()
def intervene(model: StateSpaceModel, test: SequenceSet, pendulum: PendulumConfig, torque: np.ndarray,
              context: int, sequences: slice | list[int] | None = None) -> InterventionResult:
    """do(u): for each chosen test sequence, filter its first `context` frames and roll the model
    forward under `torque` [H]; the simulator (`pendulum`'s physics) runs from the true state at
    frame `context` under the same torque (none at all in a world whose torque is never applied,
    `torque_applied=false`)."""
    if not 1 <= context <= test.length:
        raise ValueError(f"context must be in [1, {test.length}] frames, got {context}")
    horizon = int(np.asarray(torque).size)
    if horizon < 1:
        raise ValueError("the imposed torque has no steps")
    part = test.subset(sequences if sequences is not None else slice(None)).window(0, context)
    device = next(model.parameters()).device
    z_start = filtered_state(model, batch_of(part, model.data_kind, device=device))
    actions = torch.as_tensor(torque, dtype=torch.float32, device=device)
    actions = actions.expand(len(part), horizon)[..., None]
    model_frames = to_unit(model, model.emit_mean(rollout(model, z_start, actions))).cpu()
    theta0, omega0 = part.states[:, -1, 0].double().numpy(), part.states[:, -1, 1].double().numpy()
    u = np.concatenate([[0.0], np.asarray(torque, dtype=np.float64)])  # u_0 is not applied
    if not pendulum.torque_applied:  # the negative control's world: the torque never reaches the pendulum
        u = np.zeros_like(u)
    states = integrate(theta0, omega0, np.tile(u, (len(part), 1)), pendulum.physics, pendulum.dt,
                       pendulum.substeps)[:, 1:]
    truth = torch.from_numpy(render(states[..., 0], pendulum.image_size, Geometry())).float()[:, :, None]
    return InterventionResult(np.asarray(torque, dtype=np.float64), model_frames, truth, states)


__all__ = ["STANDARD_INTERVENTIONS", "InterventionResult", "intervene", "load_torque"]
