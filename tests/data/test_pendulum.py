"""The pendulum dataset: rendering, shapes, seeding, caching, dropped frames and bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from vaelab.data import DataError, PendulumConfig, SequenceSet, cache_path, load_pendulum, simulate
from vaelab.data.pendulum import generate_splits, read_splits, save_splits
from vaelab.data.pendulum_render import Geometry, bob_position, render

TINY = PendulumConfig(train_sequences=6, train_length=12, valid_sequences=2, valid_length=12,
                      test_sequences=3, test_length=20, image_size=16)


def test_rendering_puts_the_pendulum_where_theta_says() -> None:
    thetas = np.linspace(-np.pi, np.pi, 73)
    frames = render(thetas, size=32)
    assert frames.shape == (73, 32, 32) and frames.min() >= 0 and frames.max() <= 1
    coords = np.arange(32) + 0.5
    mass = frames.sum((1, 2))
    cx = (frames.sum(1) * coords).sum(1) / mass - 16
    cy = (frames.sum(2) * coords).sum(1) / mass - 16
    angle = np.arctan2(cx, cy)  # θ = 0 hangs down (+y), θ = π/2 points right (+x)
    error = np.angle(np.exp(1j * (angle - thetas)))
    assert np.abs(error).max() < 0.02
    # the bob's centre is its brightest spot
    bob = bob_position(thetas[:5], 32)
    for frame, (x, y) in zip(frames[:5], bob, strict=True):
        assert frame[int(y), int(x)] == pytest.approx(1.0)


def test_rendering_is_anti_aliased_and_continuous_in_theta() -> None:
    a, b = render(np.array([0.3, 0.3 + 1e-3]), size=32)
    grey = (a > 0.02) & (a < 0.98)
    assert grey.sum() >= 10  # smooth edges, not a binary picture
    assert 0 < np.abs(a - b).max() < 0.05  # a milliradian moves intensities a little
    small = render(np.array([1.0]), size=8, geometry=Geometry())
    assert small.shape == (1, 8, 8) and small.max() > 0.5


def test_dataset_shapes_dtypes_and_truth() -> None:
    splits = generate_splits(TINY)
    assert set(splits) == {"train", "valid", "test"}
    train, test = splits["train"], splits["test"]
    assert train.frames.shape == (6, 12, 1, 16, 16) and train.frames.dtype == torch.uint8
    assert train.actions.shape == (6, 12, 1) and train.actions.dtype == torch.float32
    assert train.states.shape == (6, 12, 2) and train.states.dtype == torch.float32
    assert train.mask.shape == (6, 12) and train.mask.dtype == torch.bool and bool(train.mask.all())
    assert test.frames.shape == (3, 20, 1, 16, 16) and test.length == 20 and train.frame_shape == (1, 16, 16)
    assert float(train.actions.abs().max()) <= 2.0
    # the frames show the stored angles: re-rendering θ reproduces them to within a grey level
    again = np.rint(render(train.states[..., 0].numpy(), 16) * 255)
    assert np.abs(again - train.frames[:, :, 0].numpy()).max() <= 1


def test_initial_states_cover_full_range() -> None:
    data = simulate(PendulumConfig(), 2000, 2, seed=5)
    theta0, omega0 = data.states[:, 0, 0], data.states[:, 0, 1]
    assert theta0.min() < -3.0 and theta0.max() > 3.0
    assert omega0.abs().max() <= 2.0 and omega0.abs().max() > 1.9


def test_seeded_reproducibility_and_independent_streams() -> None:
    a, b = generate_splits(TINY), generate_splits(TINY)
    for split in a:
        assert torch.equal(a[split].frames, b[split].frames)
        assert torch.equal(a[split].states, b[split].states)
    other = generate_splits(dataclasses.replace(TINY, seed=1))
    assert not torch.equal(a["train"].states, other["train"].states)
    assert not torch.equal(a["train"].states[:2], a["valid"].states)  # splits differ
    noisy = generate_splits(dataclasses.replace(TINY, pixel_noise=0.05))
    assert torch.equal(noisy["train"].states, a["train"].states)  # noise does not move the pendulum
    assert not torch.equal(noisy["train"].frames, a["train"].frames)


def test_dropped_frames_are_masked_and_blank() -> None:
    data = generate_splits(dataclasses.replace(TINY, drop_probability=0.3, train_sequences=20))["train"]
    dropped = ~data.mask
    assert 0.15 < float(dropped.float().mean()) < 0.45
    assert int(data.frames[dropped].max()) == 0
    assert int(data.frames[data.mask].flatten(1).max(1).values.min()) > 0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"train_length": 0}, "train_length"), ({"test_length": 0}, "test_length"),
     ({"damping": -0.1}, "damping"), ({"image_size": 7}, "image_size"),
     ({"force": "wind"}, "force"), ({"substeps": 0}, "substeps"), ({"dt": 0.0}, "dt")],
)
def test_bad_settings_name_the_field_and_range(change: dict, field: str) -> None:
    with pytest.raises(DataError, match=f"pendulum.{field}: (must be|'wind' is not one of)"):
        PendulumConfig(**change)


def test_bad_requests_are_errors() -> None:
    with pytest.raises(DataError, match="steps >= 1"):
        simulate(TINY, 2, 0, seed=0)
    with pytest.raises(DataError, match="unknown key"):
        PendulumConfig.from_dict({"gravity": 9.8, "mass": 1.0})
    with pytest.raises(DataError, match="frames must be uint8"):
        SequenceSet(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 2, 1), torch.zeros(1, 2, 2),
                    torch.ones(1, 2, dtype=torch.bool), "x")


def test_cache_is_written_reused_and_regenerated(tmp_path: Path) -> None:
    first = load_pendulum(TINY, data_dir=tmp_path)
    path = cache_path(TINY, tmp_path)
    assert path.is_file() and path.parent == tmp_path / "pendulum"
    stamp = path.stat().st_mtime_ns
    again = load_pendulum(TINY, data_dir=tmp_path)
    assert path.stat().st_mtime_ns == stamp and torch.equal(again["test"].frames, first["test"].frames)
    changed = dataclasses.replace(TINY, damping=0.3)
    assert cache_path(changed, tmp_path) != path  # other parameters, other file
    load_pendulum(changed, data_dir=tmp_path)
    assert cache_path(changed, tmp_path).is_file()
    # a file whose stored parameters differ from its name's (or that is damaged) is regenerated
    save_splits(path, generate_splits(changed), changed)
    fixed = load_pendulum(TINY, data_dir=tmp_path)
    assert torch.equal(fixed["train"].states, first["train"].states)
    stored, _ = read_splits(path)
    assert stored == TINY
    path.write_bytes(b"not an npz")
    assert torch.equal(load_pendulum(TINY, data_dir=tmp_path)["valid"].frames, first["valid"].frames)


def test_default_cache_is_under_the_vaelab_cache_root(isolated_env: Path) -> None:
    from vaelab.data import cache_root

    assert cache_path(TINY) == cache_root() / "pendulum" / f"pendulum-{TINY.digest()}.npz"
    assert str(cache_root()).startswith(str(isolated_env))


def test_default_dataset_generates_quickly_offline() -> None:
    import time

    started = time.perf_counter()
    data = simulate(PendulumConfig(), 200, 50, seed=(0, 0))  # a tenth of the default training split
    assert time.perf_counter() - started < 5.0
    assert data.frames.shape == (200, 50, 1, 32, 32) and data.name == "pendulum"


def test_a_torque_that_was_never_applied_is_recorded_but_moves_nothing() -> None:
    from vaelab.data.pendulum import PendulumConfig, simulate

    config = PendulumConfig(force="random", max_torque=5.0, image_size=16)
    applied = simulate(config, 4, 40, seed=3)
    control = simulate(PendulumConfig(force="random", max_torque=5.0, image_size=16, torque_applied=False),
                       4, 40, seed=3)
    unforced = simulate(PendulumConfig(force="none", image_size=16), 4, 40, seed=3)
    assert torch.equal(control.actions, applied.actions) and control.actions.abs().max() > 0.5
    assert torch.allclose(control.states, unforced.states)  # the recorded torque did nothing
    assert not torch.allclose(control.states, applied.states)


def test_a_placebo_gives_every_sequence_another_ones_torque() -> None:
    from vaelab.data.pendulum import PendulumConfig, placebo, simulate

    data = simulate(PendulumConfig(image_size=16), 7, 10, seed=0)
    swapped = placebo(data, seed=1)
    assert torch.equal(swapped.frames, data.frames) and torch.equal(swapped.states, data.states)
    matches = [[torch.equal(swapped.actions[i], data.actions[j]) for j in range(7)] for i in range(7)]
    assert all(not matches[i][i] for i in range(7))               # nobody keeps their own torque
    assert all(sum(row) == 1 for row in matches)                  # each gets exactly one other's
    assert sorted(row.index(True) for row in matches) == list(range(7))  # a permutation
    assert torch.equal(placebo(data, seed=1).actions, swapped.actions)   # seeded
    with pytest.raises(DataError, match="at least two"):
        placebo(data.subset(slice(0, 1)))
