"""State-space models: the physics transition is the simulator's rule, shapes, guides, learning."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vaelab.data import PendulumConfig, simulate
from vaelab.data.pendulum_render import render
from vaelab.data.sequences import SequenceBatch, frames_to_model_space
from vaelab.models.ssm import SSMConfig, build_ssm
from vaelab.models.ssm_guide import FusionCombiner, Summarizer
from vaelab.models.ssm_rollout import (
    filtered_state,
    filtering_means,
    generate,
    posterior_means,
    predict,
    rollout,
)
from vaelab.models.transitions import GatedTransition, PendulumTransition
from vaelab.nn.keypoints import KeypointEncoder

SMALL = {"encoder_hidden": (32, 16), "rnn_hidden": 16, "combiner_hidden": 16, "decoder_hidden": (32,),
         "transition_hidden": 16}


def _set_true_constants(transition: PendulumTransition, damping: float = 0.1) -> None:
    with torch.no_grad():
        transition.log_omega_squared.fill_(math.log(9.81))
        transition.raw_damping.fill_(math.log(math.expm1(damping)))
        transition.input_gain.fill_(1.0)
        transition.down.fill_(0.0)


def test_physics_transition_with_true_constants_reproduces_the_simulator() -> None:
    config = PendulumConfig(force="random")
    data = simulate(config, 16, 40, seed=3)
    transition = PendulumTransition("pendulum", dt=config.dt, substeps=10)
    _set_true_constants(transition)
    theta, omega = data.states[:, 0, 0], data.states[:, 0, 1]
    z0 = torch.stack([theta.cos(), theta.sin(), omega], -1).double()
    transition.double()
    with torch.no_grad():
        z = [z0]
        for t in range(1, 40):
            z.append(transition.mean(z[-1], data.actions[:, t].double()))
    z = torch.stack(z, 1)
    true = data.states.double()
    assert torch.allclose(z[..., 0], true[..., 0].cos(), atol=1e-4)
    assert torch.allclose(z[..., 1], true[..., 0].sin(), atol=1e-4)
    assert torch.allclose(z[..., 2], true[..., 1], atol=1e-4)


def test_undamped_rule_conserves_energy_and_gravity_direction_is_learnable() -> None:
    transition = PendulumTransition("undamped", dt=0.05, substeps=4)
    _set_true_constants(transition, damping=0.5)
    assert float(transition.damping) == 0.0
    z = torch.tensor([[math.cos(2.0), math.sin(2.0), 1.0]])
    energies = []
    with torch.no_grad():
        for _ in range(100):
            z = transition.mean(z, torch.zeros(1, 1))
            energies.append(0.5 * z[0, 2] ** 2 - 9.81 * z[0, 0])
    assert max(energies) - min(energies) < 1e-3
    # rotating the latent circle by φ and learning "down" = φ gives the same motion, rotated
    rotated = PendulumTransition("pendulum", dt=0.05)
    plain = PendulumTransition("pendulum", dt=0.05)
    _set_true_constants(rotated)
    _set_true_constants(plain)
    with torch.no_grad():
        rotated.down.fill_(0.7)
    a, w = 0.4, -1.3
    with torch.no_grad():
        step_plain = plain.mean(torch.tensor([[math.cos(a), math.sin(a), w]]), torch.zeros(1, 1))
        step_rot = rotated.mean(torch.tensor([[math.cos(a + 0.7), math.sin(a + 0.7), w]]), torch.zeros(1, 1))
    angle_plain = math.atan2(step_plain[0, 1], step_plain[0, 0])
    angle_rot = math.atan2(step_rot[0, 1], step_rot[0, 0])
    assert angle_rot - angle_plain == pytest.approx(0.7, abs=1e-5)
    assert step_rot[0, 2] == pytest.approx(float(step_plain[0, 2]), abs=1e-5)


def test_generic_transition_starts_as_no_change() -> None:
    transition = GatedTransition(4, 1, 16)
    z = torch.randn(5, 4)
    dist = transition(z, torch.zeros(5, 1))
    assert dist.event_shape == (4,) and dist.batch_shape == (5,)
    # half identity, half the proposal network at initialisation: close to z, and learnable
    assert (dist.mean - z).abs().mean() < z.abs().mean()


@pytest.mark.parametrize("transition", ["pendulum", "undamped", "generic"])
def test_noise_ceiling_bounds_every_rule_process_noise(transition: str) -> None:
    ceiling = (0.003, 0.004, 0.01)
    config = SSMConfig(transition=transition, readout="circle", noise_ceiling=ceiling)
    model = build_ssm(config, (1, 16, 16), 0.05)
    with torch.no_grad():  # push the noise parameters as far up as they go
        for name, parameter in model.dynamics.named_parameters():
            if "noise" in name or name.startswith("scale"):
                parameter.fill_(50.0)
    z = torch.randn(64, 3) * 3
    scale = model.transition(z, torch.randn(64, 1)).base_dist.scale
    assert (scale <= torch.tensor(ceiling) + 1e-7).all() and (scale > 0.9 * torch.tensor(ceiling)).all()
    default = build_ssm(SSMConfig(transition=transition, readout="circle"), (1, 16, 16), 0.05)
    assert default.transition(z, torch.zeros(64, 1)).base_dist.scale.max() > 0.01  # no ceiling given


@pytest.mark.parametrize(
    ("overrides", "guide_direction"),
    [({}, "backward"), ({"guide": "filter"}, "forward"),
     ({"transition": "generic", "latent_dim": 4}, "forward"),
     ({"transition": "small-angle"}, "backward"), ({"combiner": "gated"}, "backward"),
     ({"transition": "none", "guide": "frame", "combiner": "frame", "latent_dim": 2}, "none"),
     ({"likelihood": "logistic8", "architecture": "mlp"}, "backward")],
)
def test_every_variant_builds_and_speaks_distributions(overrides: dict, guide_direction: str) -> None:
    config = SSMConfig(**{**SMALL, **overrides})
    model = build_ssm(config, (1, 16, 16), dt=0.05)
    assert model.summarizer.direction == guide_direction
    data = simulate(PendulumConfig(image_size=16), 3, 6, seed=0)
    batch = SequenceBatch(frames_to_model_space(data.frames, model.data_kind), data.actions, data.mask)
    d = config.latent_dim
    h = model.summarize(batch)
    assert h.shape[:2] == (3, 6)
    prior = model.initial_prior((3,))
    q = model.posterior(None, h[:, 0], prior, batch.mask[:, 0])
    z = q.rsample()
    assert z.shape == (3, d) and q.event_shape == (d,)
    assert model.transition(z, batch.actions[:, 1]).event_shape == (d,)
    emission = model.emit(torch.randn(2, 3, 6, d))  # sample and time dimensions pass through
    assert emission.batch_shape == (2, 3, 6) and emission.event_shape == (1, 16, 16)
    assert emission.log_prob(batch.frames).shape == (2, 3, 6)
    means, scales = posterior_means(model, batch)
    assert means.shape == (3, 6, d) and (scales > 0).all()
    predicted, states = predict(model, batch, context=2)
    assert predicted.shape == (3, 4, 1, 16, 16) and states.shape == (3, 4, d)
    frames, states = generate(model, batch.actions, torch.Generator().manual_seed(0))
    assert frames.shape == (3, 6, 1, 16, 16) and states.shape == (3, 6, d)


def test_sampled_rollouts_are_seeded() -> None:
    model = build_ssm(SSMConfig(**SMALL), (1, 16, 16), dt=0.05)
    z0, actions = torch.randn(4, 3), torch.zeros(4, 10, 1)
    a = rollout(model, z0, actions, sample=True, generator=torch.Generator().manual_seed(1))
    b = rollout(model, z0, actions, sample=True, generator=torch.Generator().manual_seed(1))
    c = rollout(model, z0, actions, sample=False)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"transition": "pendulum", "latent_dim": 4}, "latent_dim"), ({"transition": "chaos"}, "transition"),
     ({"guide": "frame"}, "guide"), ({"likelihood": "bernoulli"}, "likelihood"),
     ({"transition": "pendulum", "readout": "full"}, "readout"), ({"fixed_scale": 0.0}, "fixed_scale"),
     ({"noise_ceiling": (0.01, 0.01)}, "noise_ceiling"),
     ({"noise_ceiling": (0.01, 0.0, 0.1)}, "noise_ceiling"),
     ({"transition": "none", "guide": "frame", "combiner": "frame", "noise_ceiling": (1.0, 1.0, 1.0)},
      "noise_ceiling")],
)
def test_bad_model_settings_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"model.{field}"):
        SSMConfig(**overrides)


def test_keypoint_starts_at_the_pendulum_and_circles_the_pivot_once() -> None:
    encoder = KeypointEncoder((1, 32, 32), (16,), 8)
    thetas = np.linspace(-np.pi, np.pi, 64, endpoint=False)
    frames = torch.from_numpy(render(thetas, 32))[:, None]
    with torch.no_grad():
        keypoint = encoder(frames)[:, -2:].numpy()
    angle = np.unwrap(np.arctan2(keypoint[:, 0], keypoint[:, 1]))
    assert np.abs(np.angle(np.exp(1j * (angle - thetas)))).max() < 0.1
    assert angle[-1] - angle[0] == pytest.approx(2 * np.pi * 63 / 64, abs=0.1)  # winding number 1


def test_tiny_training_lowers_the_loss_and_the_probe_finds_the_state(tmp_path: Path) -> None:
    from vaelab.evaluation.sequence_metrics import probe
    from vaelab.kinds.ssm_experiment import SequenceExperiment
    from vaelab.kinds.ssm_training import fit_sequences, load_sequence_splits
    from vaelab.runs.metrics_log import read_metrics

    config = SequenceExperiment().with_overrides({
        "model": dict(SMALL),
        "data": {"data_dir": str(tmp_path / "data"),
                 "pendulum": {"train_sequences": 32, "train_length": 16, "valid_sequences": 8,
                              "valid_length": 16, "test_sequences": 16, "test_length": 20, "image_size": 16}},
        "train": {"epochs": 5, "batch_size": 8, "learning_rate": 3e-3, "seed": 0},
    })
    model, loop = fit_sequences(config, tmp_path / "run", progress=False, log=lambda _: None)
    records = read_metrics(tmp_path / "run")
    assert loop.epoch == 5 and len(records) == 5 and loop.step == 20
    assert records[-1]["train_loss"] < records[0]["train_loss"] - 100  # nats per frame
    assert records[-1]["valid_bound_per_frame"] > records[0]["valid_bound_per_frame"] + 100
    assert {"g_over_L", "damping", "input_gain"} <= set(records[-1])
    splits = load_sequence_splits(config.data)
    result = probe(model, splits["train"], splits["test"], mlp=False)
    assert result.guide == "smooth" and result.train_frames == 32 * 16 and result.test_frames == 16 * 20
    assert result.as_dict()["filter_lag"] == 5  # how the smoothing guide filtered, on record
    # chance is R² = 0; the keypoint guide reads the angle (and its finite difference the
    # velocity) from the frames, so the filtering means carry the state from the start
    assert result.linear["sin_theta"] > 0.9 and result.linear["cos_theta"] > 0.9
    assert result.linear["omega"] > 0.5


@pytest.mark.parametrize("correction", [False, True])
def test_velocity_measurement_is_the_finite_difference_unless_corrected(correction: bool) -> None:
    combiner = FusionCombiner(10, 3, 8, skip=2, circle_dt=0.05, velocity_correction=correction)
    with torch.no_grad():
        combiner.observation.layers[-1].bias[2] = 5.0  # what a learned correction would add
    theta_prev, theta = torch.tensor([0.3, -1.0]), torch.tensor([0.4, -1.2])
    z_prev = torch.stack([theta_prev.cos(), theta_prev.sin(), torch.zeros(2)], -1)
    h = torch.cat([torch.randn(2, 8), torch.stack([theta.sin(), theta.cos()], -1)], -1)  # keypoint (x, y)
    predicted = torch.stack([theta.cos(), theta.sin(), torch.full((2,), 0.6)], -1)
    m, _ = combiner.pseudo_observation(z_prev, h, predicted)
    expected = (theta - theta_prev) / 0.05 + 0.5 * 0.6 + (5.0 if correction else 0.0)
    assert torch.allclose(m[:, :2], torch.stack([theta.cos(), theta.sin()], -1), atol=1e-6)
    assert torch.allclose(m[:, 2], expected, atol=1e-4)


@pytest.mark.parametrize("seen_next", [1.0, 0.0])
def test_smoothing_guide_measures_the_first_velocity_by_the_forward_difference(seen_next: float) -> None:
    combiner = FusionCombiner(13, 3, 8, skip=2, circle_dt=0.05, lookahead=True, velocity_correction=False)
    theta, theta_next = torch.tensor([0.3, -1.0]), torch.tensor([0.38, -1.1])
    keypoint = lambda a: torch.stack([a.sin(), a.cos()], -1)  # noqa: E731  (x, y)
    h = torch.cat([torch.randn(2, 8), keypoint(theta), keypoint(theta_next), torch.full((2, 1), seen_next)],
                  -1)
    m, _ = combiner.pseudo_observation(None, h)  # t = 1: no previous state
    assert torch.allclose(m[:, :2], torch.stack([theta.cos(), theta.sin()], -1), atol=1e-6)
    assert torch.allclose(m[:, 2], seen_next * (theta_next - theta) / 0.05, atol=1e-4)


def test_a_model_that_is_not_driven_ignores_the_input() -> None:
    from vaelab.models import SSMConfig, build_ssm

    torch.manual_seed(0)
    tiny = {"encoder_hidden": (16, 8), "rnn_hidden": 8, "combiner_hidden": 8, "decoder_hidden": (16,)}
    driven = build_ssm(SSMConfig(**tiny), (1, 16, 16), 0.05, 1)
    undriven = build_ssm(SSMConfig(**tiny, driven=False), (1, 16, 16), 0.05, 1)
    with torch.no_grad():
        driven.dynamics.input_gain.fill_(1.0)  # a gain learned from data (it starts at 0)
    undriven.load_state_dict(driven.state_dict())
    z = torch.randn(4, 3)
    pushed, still = torch.full((4, 1), 3.0), torch.zeros(4, 1)
    assert torch.allclose(undriven.transition_mean(z, pushed), undriven.transition_mean(z, still))
    assert torch.allclose(undriven.transition_mean(z, pushed), driven.transition_mean(z, still))
    assert not torch.allclose(driven.transition_mean(z, pushed), driven.transition_mean(z, still))


@pytest.mark.parametrize("seen_before", [1.0, 0.0])
def test_filtering_guide_measures_velocity_by_a_second_order_backward_difference(seen_before: float) -> None:
    """(3θ_t − 4θ_{t−1} + θ_{t−2}) / 2dt is exact for an angle quadratic in time and holds no
    transition; where frame t−2 was not seen, the first-order difference carried by the
    prediction stands in."""
    combiner = FusionCombiner(16, 3, 8, skip=2, circle_dt=0.05, lookback=True, velocity_correction=False)
    dt, omega, accel = 0.05, torch.tensor([1.5, -2.0]), torch.tensor([-8.0, 5.0])
    angle = lambda t: 0.3 + omega * t + 0.5 * accel * t ** 2  # noqa: E731  θ(t), t in seconds
    keypoint = lambda a: torch.stack([a.sin(), a.cos()], -1)  # noqa: E731  (x, y)
    theta, theta_prev, theta_prev2 = angle(0.0), angle(-dt), angle(-2 * dt)
    h = torch.cat([torch.randn(2, 8), keypoint(theta), keypoint(theta_prev), torch.ones(2, 1),
                   keypoint(theta_prev2), torch.full((2, 1), seen_before)], -1)
    z_prev = torch.stack([theta_prev.cos(), theta_prev.sin(), torch.zeros(2)], -1)
    predicted = torch.stack([theta.cos(), theta.sin(), torch.full((2,), 0.6)], -1)
    m, _ = combiner.pseudo_observation(z_prev, h, predicted)
    carried = (theta - theta_prev) / dt + 0.5 * 0.6
    expected = omega if seen_before else carried
    assert torch.allclose(m[:, 2], expected, atol=1e-4)


def test_the_forward_summarizer_hands_on_the_two_previous_keypoints() -> None:
    summarizer = Summarizer(6, 1, 5, "forward", skip=2, lookback=True)
    e, u, mask = torch.randn(3, 4, 6), torch.randn(3, 4, 1), torch.ones(3, 4)
    mask[0, 1] = 0
    h = summarizer(e, u, mask)
    assert h.shape == (3, 4, 5 + 8) and summarizer.skip_features == 8
    keypoints = e[..., -2:] * mask[..., None]
    assert torch.equal(h[:, 1:, 7:9], keypoints[:, :-1]) and torch.equal(h[:, 0, 7:9], torch.zeros(3, 2))
    assert torch.equal(h[:, 2:, 10:12], keypoints[:, :-2]) and torch.equal(h[:, 1, 12], torch.zeros(3))
    assert h[0, 2, 9] == 0 and h[1, 2, 9] == 1  # frame 2 of sequence 0 was dropped
    tiny = {"encoder_hidden": (16, 8), "rnn_hidden": 8, "combiner_hidden": 8, "decoder_hidden": (16,)}
    second = {**tiny, "velocity_difference": "second-order"}
    assert build_ssm(SSMConfig(**second, guide="filter"), (1, 16, 16), 0.05, 1).summarizer.lookback
    assert not build_ssm(SSMConfig(**tiny, guide="filter"), (1, 16, 16), 0.05, 1).summarizer.lookback
    for guide in ("auto", "smooth"):  # the smoothing guide measures by central differences
        with pytest.raises(ValueError, match="model.velocity_difference"):
            SSMConfig(**second, guide=guide)


@pytest.mark.parametrize("direction", ["forward", "backward", "none"])
def test_the_summary_at_the_end_is_the_summary_of_the_cut_sequence(direction: str) -> None:
    torch.manual_seed(0)
    summarizer = Summarizer(6, 1, 5, direction, skip=2)
    e, u, mask = torch.randn(3, 5, 6), torch.randn(3, 5, 1), torch.ones(3, 5)
    mask[1, 3] = 0
    at_end = summarizer.at_end(e, u, mask)
    for t in range(5):
        cut = summarizer(e[:, :t + 1], u[:, :t + 1], mask[:, :t + 1])
        assert torch.allclose(at_end[:, t], cut[:, -1], atol=1e-6)


def _smoothing_model_and_batch() -> tuple:
    torch.manual_seed(0)
    model = build_ssm(SSMConfig(**SMALL, guide="smooth"), (1, 16, 16), dt=0.05)
    data = simulate(PendulumConfig(image_size=16), 2, 7, seed=0)
    return model, SequenceBatch(frames_to_model_space(data.frames, model.data_kind), data.actions, data.mask)


def test_a_smoothing_guide_filters_exactly_by_rerunning_every_prefix_or_within_a_lag() -> None:
    model, batch = _smoothing_model_and_batch()
    prefixes = torch.stack([posterior_means(model, batch.window(0, t))[0][:, -1] for t in range(1, 8)], 1)
    exact = filtering_means(model, batch, lag=None)
    assert torch.allclose(exact, prefixes, atol=1e-6)
    assert torch.allclose(filtering_means(model, batch, lag=7), exact, atol=1e-6)  # a lag as long as the data
    assert torch.allclose(filtered_state(model, batch), exact[:, -1], atol=1e-6)
    online = filtering_means(model, batch, lag=0)
    assert torch.allclose(online[:, 0], exact[:, 0], atol=1e-6)  # the first step has no past to re-smooth
    assert not torch.allclose(online, exact, atol=1e-4)
    # lag L: the last L frames re-smoothed from the online state before them
    lag2 = filtering_means(model, batch, lag=2)
    z4 = posterior_means(model, batch.window(3, 5), z_start=online[:, 2])[0][:, -1]
    assert torch.allclose(lag2[:, 4], z4, atol=1e-6)
    with pytest.raises(ValueError, match="lag"):
        filtering_means(model, batch, lag=-1)


def test_a_filtering_guide_filters_in_one_pass_whatever_the_lag() -> None:
    model = build_ssm(SSMConfig(**SMALL, guide="filter"), (1, 16, 16), dt=0.05)
    data = simulate(PendulumConfig(image_size=16), 2, 5, seed=0)
    batch = SequenceBatch(frames_to_model_space(data.frames, model.data_kind), data.actions, data.mask)
    means = posterior_means(model, batch)[0]
    assert torch.equal(filtering_means(model, batch, lag=None), means)
    assert torch.equal(filtering_means(model, batch, lag=0), means)


@pytest.mark.parametrize(("transition", "guide"), [("pendulum", "smooth"), ("small-angle", "smooth"),
                                                   ("generic", "filter"), ("none", "frame")])
def test_the_automatic_guide_smooths_for_physics_rules(transition: str, guide: str, tmp_path: Path) -> None:
    from vaelab.kinds.ssm_experiment import SequenceExperiment

    extra = {"combiner": "frame", "latent_dim": 2} if transition == "none" else {}
    extra = {"latent_dim": 4} if transition == "generic" else extra
    direction = {"smooth": "backward", "filter": "forward", "frame": "none"}[guide]
    model = build_ssm(SSMConfig(transition=transition, **extra), (1, 16, 16), 0.05)
    assert model.summarizer.direction == direction
    # "auto" follows a transition given later, and a saved run holds the guide it was built with
    experiment = SequenceExperiment().with_overrides({"model": {"transition": transition, **extra}})
    assert experiment.model.guide == "auto" and experiment.model.resolved_guide() == guide
    experiment.save(tmp_path / "config.json")
    assert SequenceExperiment.load(tmp_path / "config.json").model.guide == guide
    if transition != "none":  # a guide asked for is kept
        assert SSMConfig(transition=transition, guide="filter", **extra).resolved_guide() == "filter"
