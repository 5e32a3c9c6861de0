"""Start a physics rule at the constants its own guide's state estimates imply.

A physics transition starts from fixed guesses (g/L 5, b 0.5, gain 0). The guide's states are
good from the first step (its angle is measured from a keypoint and its velocity by finite
differences), but the ELBO moves the constants slowly: within a few minutes the damping was still
coming down from 0.5 (+19 % on the default pendulum, worse on others) while a regression on the
same states was within 1 %. So a fresh run first regresses θ̈ on the rule's force, ω and u over
the guide's state estimates of some training sequences (twice: the filtering guide carries its
velocity with the transition's prediction, which the first fit improves) and starts there; the
ELBO then refines the constants from close by instead of travelling to them.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaelab.data.pendulum import SequenceSet
from vaelab.evaluation.sequence_metrics import batch_of, recover_constants
from vaelab.models.ssm import StateSpaceModel
from vaelab.models.ssm_rollout import posterior_means
from vaelab.models.transitions import PendulumTransition

#: training sequences whose state estimates the first constants are fitted on
FIT_SEQUENCES = 200
#: fits (each on state estimates made under the previous fit's constants)
ROUNDS = 2
#: the fit is kept within these bounds (g/L, b); a fit outside keeps the rule's own start
G_OVER_L_RANGE = (1e-2, 1e4)
DAMPING_RANGE = (1e-3, 100.0)


@torch.no_grad()
def least_squares_constants(model: StateSpaceModel, data: SequenceSet, rounds: int = ROUNDS,
                            sequences: int = FIT_SEQUENCES) -> dict[str, float] | None:
    """Set the model's physics constants to the least-squares fit on its guide's state estimates
    of the first `sequences` of `data`; returns them (None, and nothing changed, for a rule
    without constants or a fit outside sensible bounds)."""
    dynamics = model.dynamics
    if not isinstance(dynamics, PendulumTransition) or len(data) == 0 or data.length < 4:
        return None
    device = next(model.parameters()).device
    batch = batch_of(data, model.data_kind, slice(0, min(sequences, len(data))), device)
    actions = batch.actions[..., 0].double().cpu().numpy() if model.driven else \
        np.zeros(tuple(batch.actions.shape[:2]))
    fitted: dict[str, float] | None = None
    was_training = model.training
    model.eval()
    try:
        for _ in range(rounds):
            means = posterior_means(model, batch)[0].double().cpu().numpy()
            angle = np.arctan2(means[..., 1], means[..., 0]) - float(dynamics.down)
            force = (np.angle(np.exp(1j * angle)) if dynamics.rule == "small-angle" else np.sin(angle))
            fit = recover_constants(force, means[..., 2], actions, dynamics.dt, burn_in=2)
            damping = fit["damping"] if dynamics.rule != "undamped" else float(dynamics.damping) or 0.5
            if not (G_OVER_L_RANGE[0] <= fit["g_over_L"] <= G_OVER_L_RANGE[1]
                    and math.isfinite(fit["input_gain"])):
                return fitted
            fitted = {"g_over_L": fit["g_over_L"],
                      "damping": min(max(damping, DAMPING_RANGE[0]), DAMPING_RANGE[1]),
                      "input_gain": fit["input_gain"] if model.driven else 0.0}
            dynamics.set_constants(**fitted)
    finally:
        model.train(was_training)
    return fitted


__all__ = ["least_squares_constants"]
