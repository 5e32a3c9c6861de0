"""Prediction oracles: with the truth's own pieces plugged in, prediction lasts the whole horizon."""

from __future__ import annotations

import math

import pytest
import torch

from vaelab.data import PendulumConfig, simulate
from vaelab.data.pendulum_render import render
from vaelab.evaluation.sequence_oracles import ORACLES, prediction_oracles
from vaelab.models.ssm import SSMConfig, build_ssm

SMALL = {"encoder_hidden": (32, 16), "rnn_hidden": 16, "combiner_hidden": 16, "decoder_hidden": (32,)}


def test_true_constants_and_a_true_renderer_predict_the_whole_horizon() -> None:
    config = PendulumConfig(image_size=16)
    test = simulate(config, 6, 40, seed=5)
    torch.manual_seed(0)
    model = build_ssm(SSMConfig(**SMALL), test.frame_shape, config.dt)
    with torch.no_grad():  # the simulator's constants
        model.dynamics.log_omega_squared.fill_(math.log(9.81))
        model.dynamics.raw_damping.fill_(math.log(math.expm1(0.1)))
        model.dynamics.input_gain.fill_(1.0)

    def true_renderer(z: torch.Tensor) -> torch.Tensor:  # the simulator's pictures of the latent angle
        theta = torch.atan2(z[..., 1], z[..., 0])
        return torch.from_numpy(render(theta.double().numpy(), 16)).float().unsqueeze(-3)

    model.emit_mean = true_renderer
    scores = prediction_oracles(model, test, config, context=10)
    assert set(scores) == set(ORACLES)
    assert scores["emitter"] == 1.0
    assert scores["learned_transition"] >= 0.9  # RK4 with 2 substeps against the simulator's 10
    assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_oracles_need_a_physics_transition() -> None:
    config = PendulumConfig(image_size=16)
    test = simulate(config, 2, 12, seed=0)
    model = build_ssm(SSMConfig(transition="generic", readout="circle", **SMALL), test.frame_shape, config.dt)
    with pytest.raises(ValueError, match="physics transition"):
        prediction_oracles(model, test, config)
