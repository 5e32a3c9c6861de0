"""The explorer's view of a sequence run (the pendulum): scrub a test sequence with its filtered
state and the learned constants, and impose a torque — do(u) — on the model's rollout beside the
simulator run from the true state under the same torque. No web code here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaelab.evaluation.interventions import intervene, load_torque
from vaelab.evaluation.sequence_metrics import batch_of
from vaelab.explore.session import png_data_url
from vaelab.models.ssm_rollout import filtering_means
from vaelab.runs.loader import RunLoader

MAX_HORIZON = 200


def _angle(z: torch.Tensor, offset: float) -> torch.Tensor:
    """θ from a physics latent (cos θ̂, sin θ̂, ω̂): the angle on the unit circle less the learned
    offset of "down"."""
    return torch.atan2(z[..., 1], z[..., 0]) - offset


class SequenceSession:
    """A trained state-space model and its (simulated) test sequences; `load`: the sequence kind's
    loader."""

    def __init__(self, run_dir: Path | str, load: RunLoader, device: str = "cpu",
                 data_dir: str | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.model, self.config, splits = load(self.run_dir, device=device, data=True, data_dir=data_dir)
        self.model.eval()
        self.test = splits["test"]
        self.device = next(self.model.parameters()).device
        self.pendulum = self.config.data.pendulum

    def describe(self) -> dict[str, Any]:
        constants = self.model.physical_constants()
        return {
            "run": self.run_dir.resolve().name, "kind": "ssm", "view": "sequence",
            "transition": self.config.model.transition, "sequences": len(self.test),
            "length": self.test.length, "dt": self.pendulum.dt,
            "learned": constants, "max_torque": self.pendulum.max_torque, "max_horizon": MAX_HORIZON,
            "true": {"g_over_L": self.pendulum.gravity / self.pendulum.length,
                     "damping": self.pendulum.damping},
        }

    def _check(self, index: int) -> None:
        if not 0 <= index < len(self.test):
            raise ValueError(f"test sequences are numbered 0 to {len(self.test) - 1}, got {index}")

    @torch.no_grad()
    def sequence(self, index: int) -> dict[str, Any]:
        """Every frame of test sequence `index` (for scrubbing) with the filtered and the true
        state (θ, ω) per frame and the recorded torque."""
        self._check(index)
        part = self.test.subset(slice(index, index + 1))
        filtered = filtering_means(self.model, batch_of(part, self.model.data_kind, device=self.device))[0]
        constants = self.model.physical_constants() or {}
        theta = _angle(filtered, constants.get("down", 0.0)) if filtered.shape[-1] == 3 else None
        frames = part.frames[0].float() / 255.0
        return {
            "frames": [png_data_url(frame[None], side=128) for frame in frames],
            "filtered_theta": None if theta is None else theta.cpu().tolist(),
            "filtered_omega": None if theta is None else filtered[:, 2].cpu().tolist(),
            "true_theta": part.states[0, :, 0].tolist(), "true_omega": part.states[0, :, 1].tolist(),
            "torque": part.actions[0, :, 0].tolist(),
        }

    def intervene(self, index: int, start: int, torque: str, horizon: int = 60) -> dict[str, Any]:
        """do(u): filter frames 0..start of test sequence `index`, then roll the model's transition
        forward `horizon` steps under the imposed torque; the simulator runs from the true state at
        `start` under the same torque. Frames of both, per-step pixel MSE, valid prediction time."""
        self._check(index)
        if not 0 <= start < self.test.length:
            raise ValueError(f"start must be a frame of the sequence, 0 to {self.test.length - 1}")
        if not 1 <= horizon <= MAX_HORIZON:
            raise ValueError(f"horizon must be in [1, {MAX_HORIZON}], got {horizon}")
        u = load_torque(torque, horizon, self.pendulum.dt)
        result = intervene(self.model, self.test, self.pendulum, u, start + 1, slice(index, index + 1))
        return {
            "model": [png_data_url(f[None], side=128) for f in result.model_frames[0]],
            "simulator": [png_data_url(f[None], side=128) for f in result.truth_frames[0]],
            "mse": result.mse[0].tolist(), "valid_prediction_time": float(result.valid_prediction_time[0]),
            "torque": u.tolist(), "simulator_theta": result.truth_states[0, :, 0].tolist(),
        }


__all__ = ["SequenceSession"]
