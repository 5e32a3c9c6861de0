"""The pendulum simulator obeys its physics: energy, period, integrator accuracy, forces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaelab.data.pendulum_physics import Physics, energy, integrate, sample_forces, wrap_angle


def _free(n: int, steps: int) -> np.ndarray:
    return np.zeros((n, steps), dtype=np.float32)


def test_energy_is_conserved_without_damping_and_force() -> None:
    rng = np.random.default_rng(0)
    theta0, omega0 = rng.uniform(-np.pi, np.pi, 64), rng.uniform(-4, 4, 64)  # includes full rotations
    physics = Physics(damping=0.0)
    states = integrate(theta0, omega0, _free(64, 400), physics, dt=0.05, substeps=10)
    e = energy(states[..., 0], states[..., 1], physics)
    assert np.abs(e - e[:, :1]).max() < 1e-5 * np.abs(e).max()  # 20 s of motion, RK4 with h = 5 ms
    assert (np.abs(states[:, -1, 0] - states[:, 0, 0]) > 2 * np.pi).any()  # some of them rotate fully


def test_damping_only_removes_energy() -> None:
    rng = np.random.default_rng(1)
    physics = Physics(damping=0.1)
    states = integrate(rng.uniform(-3, 3, 32), rng.uniform(-2, 2, 32), _free(32, 200), physics)
    e = energy(states[..., 0], states[..., 1], physics)
    assert (np.diff(e, axis=1) <= 1e-9).all()
    assert (e[:, -1] < e[:, 0]).all()


@pytest.mark.parametrize(("gravity", "length"), [(9.81, 1.0), (9.81, 2.0), (3.7, 0.5)])
def test_small_oscillations_have_period_two_pi_sqrt_l_over_g(gravity: float, length: float) -> None:
    physics = Physics(gravity=gravity, length=length, damping=0.0)
    dt = 0.01
    states = integrate(np.array([0.01]), np.array([0.0]), _free(1, 2000), physics, dt=dt, substeps=10)
    theta = states[0, :, 0]
    # upward zero crossings, located by linear interpolation
    i = np.nonzero((theta[:-1] < 0) & (theta[1:] >= 0))[0]
    crossings = (i + theta[i] / (theta[i] - theta[i + 1])) * dt
    period = np.diff(crossings).mean()
    expected = 2 * math.pi * math.sqrt(length / gravity)
    assert abs(period - expected) / expected < 1e-4  # sin θ ≈ θ: the correction is ~θ₀²/16 = 6e-6


def test_rk4_matches_a_tiny_step_reference() -> None:
    rng = np.random.default_rng(2)
    theta0, omega0 = rng.uniform(-np.pi, np.pi, 16), rng.uniform(-2, 2, 16)
    forces = sample_forces("random", 16, 50, 0.05, rng)
    physics = Physics()
    coarse = integrate(theta0, omega0, forces, physics, substeps=10)
    reference = integrate(theta0, omega0, forces, physics, substeps=1000)
    assert np.abs(coarse - reference).max() < 1e-6


def test_forces() -> None:
    rng = np.random.default_rng(3)
    assert not sample_forces("none", 4, 30, 0.05, rng).any()
    random = sample_forces("random", 200, 100, 0.05, rng, max_torque=2.0)
    assert random.shape == (200, 100) and random.dtype == np.float32
    assert np.abs(random).max() <= 2.0 and np.abs(random).max() > 1.5
    changes = np.diff(random, axis=1) != 0
    for row in changes[:20]:  # each level is held for at least 5 frames
        where = np.nonzero(row)[0]
        assert (np.diff(where) >= 5).all()
    sine = sample_forces("sine", 100, 100, 0.05, rng)
    assert np.abs(sine).max() <= 2.0 and np.abs(np.diff(sine, axis=1)).max() < 2 * np.pi * 1.0 * 2.0 * 0.05
    with pytest.raises(ValueError, match="force mode"):
        sample_forces("push", 1, 1, 0.05, rng)


def test_process_noise_needs_a_generator_and_changes_the_path() -> None:
    physics = Physics()
    with pytest.raises(ValueError, match="rng"):
        integrate(np.zeros(2), np.zeros(2), _free(2, 5), physics, process_noise=0.1)
    noisy = integrate(np.zeros(2), np.zeros(2), _free(2, 5), physics, process_noise=0.1,
                      rng=np.random.default_rng(0))
    assert np.abs(noisy[:, 1:, 1]).min() > 0


def test_wrap_angle() -> None:
    assert np.allclose(wrap_angle(np.array([0.0, 3 * np.pi, -3 * np.pi + 0.1, 2 * np.pi])),
                       [0.0, -np.pi, -np.pi + 0.1, 0.0])
