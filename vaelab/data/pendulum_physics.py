"""A damped, driven pendulum: θ̈ = −(g/L) sin θ − b θ̇ + u(t), integrated by classical RK4.

θ is the angle from the downward vertical (θ = 0 hangs straight down, ±π points up), ω = θ̇,
u the external angular acceleration ("torque" per unit inertia). Everything is vectorised over
a batch of N pendulums in numpy and seeded by a `numpy.random.Generator`, so thousands of
sequences integrate in well under a second.

u is held constant over each frame interval (zero-order hold): `actions[:, t]` is the torque
applied between frame t−1 and frame t, so u_0 precedes the first frame and does not act on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaelab.choices import FORCE_MODES as FORCE_MODES


@dataclass(frozen=True)
class Physics:
    """The pendulum's constants: gravity g (m/s²), rod length L (m), damping b (1/s)."""

    gravity: float = 9.81
    length: float = 1.0
    damping: float = 0.1

    @property
    def omega_squared(self) -> float:
        """g / L: the squared small-oscillation angular frequency (1/s²)."""
        return self.gravity / self.length


def acceleration(theta: np.ndarray, omega: np.ndarray, u: np.ndarray, physics: Physics) -> np.ndarray:
    """θ̈ = −(g/L) sin θ − b ω + u, elementwise."""
    return -physics.omega_squared * np.sin(theta) - physics.damping * omega + u


def rk4_step(theta: np.ndarray, omega: np.ndarray, u: np.ndarray, h: float,
             physics: Physics) -> tuple[np.ndarray, np.ndarray]:
    """One classical Runge–Kutta step of size h for the state (θ, ω) with u held constant."""
    k1_t, k1_w = omega, acceleration(theta, omega, u, physics)
    k2_t = omega + 0.5 * h * k1_w
    k2_w = acceleration(theta + 0.5 * h * k1_t, k2_t, u, physics)
    k3_t = omega + 0.5 * h * k2_w
    k3_w = acceleration(theta + 0.5 * h * k2_t, k3_t, u, physics)
    k4_t = omega + h * k3_w
    k4_w = acceleration(theta + h * k3_t, k4_t, u, physics)
    theta = theta + h / 6.0 * (k1_t + 2.0 * k2_t + 2.0 * k3_t + k4_t)
    omega = omega + h / 6.0 * (k1_w + 2.0 * k2_w + 2.0 * k3_w + k4_w)
    return theta, omega


def integrate(
    theta0: np.ndarray,
    omega0: np.ndarray,
    actions: np.ndarray,
    physics: Physics,
    dt: float = 0.05,
    substeps: int = 10,
    process_noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """States [N, T, 2] = (θ, ω) at frame times 0, dt, ..., (T−1) dt.

    `actions` is [N, T]; the step from frame t−1 to t applies u = actions[:, t] for `substeps`
    RK4 steps of size dt / substeps. `process_noise` σ adds σ √dt ε to ω after each frame step
    (an Euler–Maruyama velocity kick), drawn from `rng`. θ is left unwrapped (full rotations
    accumulate); wrap it with `wrap_angle` where needed.
    """
    n, steps = actions.shape
    if process_noise > 0 and rng is None:
        raise ValueError("process_noise > 0 needs a numpy Generator `rng`")
    states = np.empty((n, steps, 2), dtype=np.float64)
    theta, omega = theta0.astype(np.float64), omega0.astype(np.float64)
    states[:, 0, 0], states[:, 0, 1] = theta, omega
    h = dt / substeps
    for t in range(1, steps):
        u = actions[:, t].astype(np.float64)
        for _ in range(substeps):
            theta, omega = rk4_step(theta, omega, u, h, physics)
        if process_noise > 0:
            assert rng is not None
            omega = omega + process_noise * np.sqrt(dt) * rng.standard_normal(n)
        states[:, t, 0], states[:, t, 1] = theta, omega
    return states


def energy(theta: np.ndarray, omega: np.ndarray, physics: Physics) -> np.ndarray:
    """Mechanical energy per unit m L²: ½ ω² − (g/L) cos θ (constant when b = 0 and u = 0)."""
    return 0.5 * omega**2 - physics.omega_squared * np.cos(theta)


def wrap_angle(theta: np.ndarray) -> np.ndarray:
    """θ wrapped into [−π, π)."""
    return (theta + np.pi) % (2.0 * np.pi) - np.pi


def sample_forces(
    mode: str,
    n: int,
    steps: int,
    dt: float,
    rng: np.random.Generator,
    max_torque: float = 2.0,
    hold: tuple[int, int] = (5, 20),
    frequency: tuple[float, float] = (0.2, 1.0),
) -> np.ndarray:
    """External torques u [N, T] (float32), one value per frame interval.

    - "none": all zeros;
    - "random": piecewise constant, each level uniform in [−max_torque, max_torque] and held for
      a uniform number of frames in `hold` (inclusive);
    - "sine": A sin(2π f t + φ) with A ~ U(0, max_torque), f ~ U(`frequency`) Hz, φ ~ U(0, 2π),
      sampled at the start of each frame interval.
    """
    if mode not in FORCE_MODES:
        raise ValueError(f"force mode {mode!r} is not one of {', '.join(FORCE_MODES)}")
    if mode == "none":
        return np.zeros((n, steps), dtype=np.float32)
    if mode == "sine":
        amplitude = rng.uniform(0.0, max_torque, size=(n, 1))
        freq = rng.uniform(*frequency, size=(n, 1))
        phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1))
        times = (np.arange(steps) - 1) * dt  # the interval (t−1, t] starts at (t−1) dt
        return (amplitude * np.sin(2.0 * np.pi * freq * times + phase)).astype(np.float32)
    # "random": enough segments to cover every sequence, then gather each frame's segment
    lo, hi = hold
    max_segments = steps // lo + 2
    lengths = rng.integers(lo, hi + 1, size=(n, max_segments))
    levels = rng.uniform(-max_torque, max_torque, size=(n, max_segments))
    ends = np.cumsum(lengths, axis=1)  # segment j covers frames [ends[j-1], ends[j])
    segment = (np.arange(steps)[None, :, None] >= ends[:, None, :]).sum(-1)
    return np.take_along_axis(levels, segment, axis=1).astype(np.float32)


def imposed_torque(spec: str, steps: int, dt: float) -> np.ndarray:
    """A torque sequence u_1..u_steps imposed from outside — do(u) — from a short spec:
    "constant:V" (V rad/s² throughout), "sine:A,F" (A·sin(2π F t), F in Hz), "none", or a
    comma-separated list of values (repeated to fill `steps`). ValueError names what is wrong."""
    kind, _, values = spec.strip().partition(":")
    try:
        if kind == "none":
            return np.zeros(steps)
        if kind == "constant":
            return np.full(steps, float(values))
        if kind == "sine":
            amplitude, frequency = (float(v) for v in values.split(","))
            t = dt * np.arange(1, steps + 1)
            return amplitude * np.sin(2 * np.pi * frequency * t)
        listed = np.array([float(v) for v in spec.split(",") if v.strip()])
    except ValueError as error:
        raise ValueError(f"torque {spec!r}: expected constant:V, sine:A,F, none or comma-separated "
                         f"values ({error})") from error
    if listed.size == 0:
        raise ValueError(f"torque {spec!r}: no values")
    return np.resize(listed, steps)
