"""do(u) on the pendulum: the intervention API against the simulator, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vaelab.data.pendulum import PendulumConfig, simulate
from vaelab.evaluation.interventions import intervene, load_torque
from vaelab.models import SSMConfig, build_ssm


def test_torque_specs_and_files(tmp_path: Path) -> None:
    assert load_torque("constant:1.5", 4, 0.05).tolist() == [1.5] * 4
    assert np.allclose(load_torque("sine:2,1", 20, 0.05)[4], 2 * np.sin(2 * np.pi * 0.25))
    assert load_torque("none", 3, 0.05).tolist() == [0, 0, 0]
    np.save(tmp_path / "u.npy", np.arange(5.0))
    assert load_torque(str(tmp_path / "u.npy"), 5, 0.05).tolist() == [0, 1, 2, 3, 4]
    (tmp_path / "u.csv").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="holds 3 values; the horizon is 5"):
        load_torque(str(tmp_path / "u.csv"), 5, 0.05)
    (tmp_path / "nan.txt").write_text("1\nnan\n3\n")
    with pytest.raises(ValueError, match="NaN"):
        load_torque(str(tmp_path / "nan.txt"), 3, 0.05)
    with pytest.raises(ValueError, match="does not exist"):
        load_torque(str(tmp_path / "missing.npy"), 3, 0.05)
    with pytest.raises(ValueError, match="expected constant:V"):
        load_torque("wobble", 3, 0.05)


def test_the_simulator_side_is_the_pendulum_under_the_imposed_torque() -> None:
    config = PendulumConfig(image_size=16, force="none")
    test = simulate(config, 3, 12, seed=0)
    torch.manual_seed(0)
    tiny = SSMConfig(encoder_hidden=(16, 8), rnn_hidden=8, combiner_hidden=8, decoder_hidden=(16,))
    model = build_ssm(tiny, (1, 16, 16), config.dt, 1)
    # with no torque, the simulator continues the recorded (unforced) motion exactly
    free = intervene(model, test.window(0, 6), config, np.zeros(6), context=6)
    recorded = simulate(config, 3, 12, seed=0)
    assert torch.allclose(free.truth_frames, recorded.frames[:, 6:].float() / 255.0, atol=1 / 255 + 1e-6)
    pushed = intervene(model, test, config, np.full(6, 8.0), context=6)
    assert not torch.allclose(pushed.truth_frames, free.truth_frames)  # the push moves the pendulum
    assert pushed.model_frames.shape == pushed.truth_frames.shape == (3, 6, 1, 16, 16)
    summary = pushed.summary()
    assert summary["sequences"] == 3 and len(summary["mse_per_step"]) == 6
    assert 0 <= summary["valid_prediction_time"] <= 1
    with pytest.raises(ValueError, match="context must be"):
        intervene(model, test, config, np.zeros(3), context=0)
    # in the negative control's world the torque never reaches the pendulum: do(u) changes nothing
    control = PendulumConfig(image_size=16, force="none", torque_applied=False)
    unmoved = intervene(model, test, control, np.full(6, 8.0), context=6)
    assert torch.equal(unmoved.truth_frames, free.truth_frames)
