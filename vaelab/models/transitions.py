"""Transitions p(z_t | z_{t−1}, u_t) and the initial state p(z_1) of a state-space model.

Each transition is one hypothesis about how the latent state evolves; they share one interface,
`transition(z_prev [*, d], u [*, a]) -> Independent(Normal(mean, scale), 1)`, and `mean(...)`
for the noiseless step used by open-loop prediction. Swapping the transition swaps the rule a
model encodes (physics with or without damping, a generic network, none at all) while the
emission and the guide stay the same, so their evidence log p(x) compares the rules. A config
names the transition (`model.transition`) from `vaelab.components.transitions`: each class
declares its name(s), builds itself with `from_config` and says whether p(z_1) is learned.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, Normal

from vaelab.choices import PHYSICS_RULES as PHYSICS_RULES
from vaelab.nn.mlp import MLP

if TYPE_CHECKING:
    from vaelab.models.ssm_config import SSMConfig


def _diag_normal(loc: torch.Tensor, scale: torch.Tensor) -> Independent:
    return Independent(Normal(loc, scale, validate_args=False), 1, validate_args=False)


class InitialState(nn.Module):
    """p(z_1) = Normal(μ₀, diag σ₀²): learned μ₀, σ₀ (from 0, `scale`), or fixed at Normal(0, scale²)."""

    def __init__(self, latent_dim: int, scale: float = 1.0, learnable: bool = True) -> None:
        super().__init__()
        loc, log_scale = torch.zeros(latent_dim), torch.full((latent_dim,), math.log(scale))
        if learnable:
            self.loc, self.log_scale = nn.Parameter(loc), nn.Parameter(log_scale)
        else:
            self.register_buffer("loc", loc, persistent=False)
            self.register_buffer("log_scale", log_scale, persistent=False)

    def forward(self, batch_shape: tuple[int, ...]) -> Independent:
        d = self.loc.shape[0]
        return _diag_normal(self.loc.expand(*batch_shape, d), self.log_scale.exp().expand(*batch_shape, d))


class PendulumTransition(nn.Module):
    """A pendulum integrator in the latent state z = (cos θ̂, sin θ̂, ω̂).

    mean(z_{t−1}, u_t) integrates θ̂̈ = −(g/L) sin(θ̂ − φ) − b ω̂ + k u over one frame (dt seconds)
    with `substeps` RK4 steps, written on the circle: ċ = −s ω̂, ṡ = c ω̂,
    ω̂̇ = −(g/L)(s cos φ − c sin φ) − b ω̂ + k u (no atan2, so no branch cut; (c, s) is first
    projected onto the unit circle, which the flow preserves). g/L > 0, b ≥ 0, the input gain k
    and the direction of "down" φ are learned — φ makes the rule indifferent to how the latent
    circle is rotated against the picture (k = −1 absorbs a reflection). `rule` selects the
    hypothesis:

    - "pendulum": the true rule (learned damping b);
    - "undamped": b fixed at 0 (energy conserved without input);
    - "small-angle": the linearised force −(g/L)(θ̂ − φ), angle difference wrapped to (−π, π]
      (a harmonic oscillator).

    p(z_t | z_{t−1}, u_t) = Normal(mean, diag σ²) with learned process noise σ per dimension,
    σ = `max_noise` · sigmoid(raw) ≤ `max_noise`: a ceiling that keeps the rule from being explained
    away by noise (left free, σ_ω and the guide's uncertainty about ω inflate each other).
    This is the physics-structured transition of DVBF-style models (Karl et al. 2017), with the
    integrator written out instead of learned.
    """

    #: the hypotheses this class answers to as `model.transition` (vaelab.components)
    names: ClassVar[tuple[str, ...]] = PHYSICS_RULES
    learned_initial_state: ClassVar[bool] = True

    @classmethod
    def from_config(cls, config: SSMConfig, dt: float, action_dim: int = 1) -> PendulumTransition:
        """The configured rule; a `noise_ceiling` caps the noise, which starts at half of it."""
        ceiling = config.noise_ceiling
        noise = {} if ceiling is None else {"noise_scale": tuple(v / 2 for v in ceiling),
                                            "max_noise": ceiling}
        return cls(config.transition, dt, config.substeps, **noise)

    def __init__(
        self,
        rule: str = "pendulum",
        dt: float = 0.05,
        substeps: int = 4,
        omega_squared: float = 5.0,
        damping: float = 0.5,
        noise_scale: tuple[float, float, float] = (0.005, 0.005, 0.05),
        max_noise: tuple[float, float, float] = (0.01, 0.01, 0.1),
    ) -> None:
        super().__init__()
        if rule not in PHYSICS_RULES:
            raise ValueError(f"transition rule {rule!r} is not one of {', '.join(PHYSICS_RULES)}")
        if not dt > 0 or substeps < 1:
            raise ValueError(f"need dt > 0 and substeps >= 1, got dt={dt}, substeps={substeps}")
        self.rule = rule
        self.dt = float(dt)
        self.substeps = int(substeps)
        self.latent_dim = 3
        self.log_omega_squared = nn.Parameter(torch.tensor(math.log(omega_squared)))
        # b = softplus(raw) ≥ 0; the undamped rule keeps the parameter but never uses it
        self.raw_damping = nn.Parameter(torch.tensor(math.log(math.expm1(damping))))
        self.input_gain = nn.Parameter(torch.tensor(0.0))
        self.down = nn.Parameter(torch.tensor(0.0))
        start, ceiling = torch.tensor(noise_scale), torch.tensor(max_noise)
        if start.shape != (3,) or ceiling.shape != (3,) or not ((start > 0) & (start < ceiling)).all():
            raise ValueError(f"need 3 values 0 < noise_scale < max_noise, got {noise_scale} and {max_noise}")
        self.register_buffer("max_noise", ceiling, persistent=False)
        fraction = start / ceiling
        self.raw_noise = nn.Parameter((fraction / (1 - fraction)).log())

    @property
    def noise(self) -> torch.Tensor:
        """σ per latent dimension."""
        return self.max_noise * torch.sigmoid(self.raw_noise)

    @property
    def omega_squared(self) -> torch.Tensor:
        """g / L (1/s²)."""
        return self.log_omega_squared.exp()

    @property
    def damping(self) -> torch.Tensor:
        """b (1/s); exactly 0 for the undamped rule."""
        if self.rule == "undamped":
            return torch.zeros_like(self.raw_damping)
        return F.softplus(self.raw_damping)

    def constants(self) -> dict[str, float]:
        """The learned physical constants as plain numbers."""
        with torch.no_grad():
            return {"g_over_L": float(self.omega_squared), "damping": float(self.damping),
                    "input_gain": float(self.input_gain), "down": float(self.down)}

    @torch.no_grad()
    def set_constants(self, g_over_L: float, damping: float, input_gain: float) -> None:
        """Start (or restart) the rule at these constants; b > 0 (ignored by the undamped rule)."""
        if not (g_over_L > 0 and damping > 0):
            raise ValueError(f"need g/L > 0 and b > 0, got {g_over_L} and {damping}")
        self.log_omega_squared.fill_(math.log(g_over_L))
        self.raw_damping.fill_(math.log(math.expm1(damping)))
        self.input_gain.fill_(input_gain)

    def _derivative(self, state: torch.Tensor, u: torch.Tensor, down_cos: torch.Tensor,
                    down_sin: torch.Tensor) -> torch.Tensor:
        c, s, w = state.unbind(-1)
        sin_from_down = s * down_cos - c * down_sin  # sin(θ̂ − φ)
        if self.rule == "small-angle":
            force = torch.atan2(sin_from_down, c * down_cos + s * down_sin)  # θ̂ − φ in (−π, π]
        else:
            force = sin_from_down
        dw = -self.omega_squared * force - self.damping * w + self.input_gain * u
        return torch.stack([-s * w, c * w, dw], -1)

    def mean(self, z_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The noiseless step: z_prev [*, 3], u [*, 1] -> E[z_t] [*, 3]."""
        radius = z_prev[..., :2].norm(dim=-1, keepdim=True).clamp_min(1e-3)
        state = torch.cat([z_prev[..., :2] / radius, z_prev[..., 2:]], -1)
        u = u[..., 0]
        h = self.dt / self.substeps
        dc, ds = self.down.cos(), self.down.sin()
        for _ in range(self.substeps):
            k1 = self._derivative(state, u, dc, ds)
            k2 = self._derivative(state + 0.5 * h * k1, u, dc, ds)
            k3 = self._derivative(state + 0.5 * h * k2, u, dc, ds)
            k4 = self._derivative(state + h * k3, u, dc, ds)
            state = state + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return state

    def forward(self, z_prev: torch.Tensor, u: torch.Tensor) -> Independent:
        loc = self.mean(z_prev, u)
        return _diag_normal(loc, self.noise.expand_as(loc))


class GatedTransition(nn.Module):
    """A generic learned rule: the gated transition of Deep Markov Models (Krishnan et al. 2017).

    g = σ(MLP_g([z, u])), proposal = MLP_p([z, u]),
    mean = (1 − g) ⊙ (W z + b) + g ⊙ proposal, scale = softplus(Linear(relu(proposal))).
    The linear path starts as the identity, so an untrained model predicts "no change".
    With `max_noise` (one σ per dimension) the scale is instead max_noise · sigmoid(Linear(...)),
    the same ceiling a physics transition has, so the two differ by their rule alone.
    """

    name: ClassVar[str] = "generic"
    learned_initial_state: ClassVar[bool] = True

    @classmethod
    def from_config(cls, config: SSMConfig, dt: float, action_dim: int = 1) -> GatedTransition:
        return cls(config.latent_dim, action_dim, config.transition_hidden, config.noise_ceiling)

    def __init__(self, latent_dim: int, action_dim: int = 1, hidden: int = 64,
                 max_noise: tuple[float, ...] | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        parents = (latent_dim + action_dim,)
        self.gate = MLP(parents, (hidden,), latent_dim)
        self.proposal = MLP(parents, (hidden,), latent_dim)
        self.linear = nn.Linear(latent_dim, latent_dim)
        nn.init.eye_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.scale = nn.Linear(latent_dim, latent_dim)
        if max_noise is not None:
            ceiling = torch.tensor(max_noise, dtype=torch.float32)
            if ceiling.shape != (latent_dim,) or not (ceiling > 0).all():
                raise ValueError(f"need {latent_dim} positive noise ceilings, got {max_noise}")
            self.register_buffer("max_noise", ceiling, persistent=False)
        else:
            self.max_noise = None

    def _parts(self, z_prev: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parents = torch.cat([z_prev, u], -1)
        gate = torch.sigmoid(self.gate(parents))
        proposal = self.proposal(parents)
        return (1 - gate) * self.linear(z_prev) + gate * proposal, proposal

    def mean(self, z_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self._parts(z_prev, u)[0]

    def forward(self, z_prev: torch.Tensor, u: torch.Tensor) -> Independent:
        loc, proposal = self._parts(z_prev, u)
        raw = self.scale(torch.relu(proposal))
        if self.max_noise is None:
            scale = F.softplus(raw) + 1e-4
        else:
            scale = (self.max_noise * torch.sigmoid(raw)).clamp_min(1e-6)
        return _diag_normal(loc, scale)


class IndependentTransition(nn.Module):
    """No dynamics: p(z_t | z_{t−1}, u_t) = Normal(0, σ² I) whatever the past.

    A state-space model with this transition and a frame-wise guide is a VAE applied to every
    frame, so its sequential ELBO is the sum of the frame-wise ELBOs (the test of the objective).
    With it p(z_1) is fixed too: Normal(0, I).
    """

    name: ClassVar[str] = "none"
    learned_initial_state: ClassVar[bool] = False

    @classmethod
    def from_config(cls, config: SSMConfig, dt: float, action_dim: int = 1) -> IndependentTransition:
        return cls(config.latent_dim)

    def __init__(self, latent_dim: int, scale: float = 1.0) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.scale = float(scale)
        self.register_buffer("zero", torch.zeros(latent_dim), persistent=False)

    def mean(self, z_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.zero.expand_as(z_prev)

    def forward(self, z_prev: torch.Tensor, u: torch.Tensor) -> Independent:
        loc = self.zero.expand_as(z_prev)
        return _diag_normal(loc, torch.full_like(loc, self.scale))
