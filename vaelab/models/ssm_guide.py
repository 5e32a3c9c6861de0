"""The guide of a state-space model: q(z_t | z_{t−1}, x) = Combiner(z_{t−1}, h_t).

Frames are encoded one by one (`FrameEncoder`), a recurrent `Summarizer` turns the encodings
into h_t — a forward GRU for filtering (h_t sees x_{≤t}), a backward GRU for smoothing
(x_{≥t}), or nothing for a frame-wise guide (h_t = e_t) — and a `Combiner` turns h_t and the
previous state into q(z_t | ·). Structure after Krishnan et al. 2017 (Deep Markov Models) and
pyro's examples/dmm.py.
"""

from __future__ import annotations

from typing import Final

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaelab.distributions.families import GaussianFamily
from vaelab.nn.mlp import MLP

DIRECTIONS: Final = ("forward", "backward", "none")
COMBINERS: Final = ("fusion", "gated", "frame")
MIN_LOG_SCALE: Final = -9.0
MAX_LOG_SCALE: Final = 5.0


class FrameEncoder(nn.Module):
    """Frames [*, T, C, H, W] -> encodings e [*, T, E] by one network applied to every frame."""

    def __init__(self, network: nn.Module, frame_shape: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        self.network = network
        self.frame_shape = tuple(frame_shape)
        self.out_features = out_features

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        lead = frames.shape[: frames.dim() - len(self.frame_shape)]
        e = self.network(frames.reshape(-1, *self.frame_shape))
        return e.reshape(*lead, self.out_features)


class Summarizer(nn.Module):
    """h [B, T, H] from encodings e [B, T, E], actions u [B, T, a] and the observed-mask [B, T].

    "forward" runs a GRU over (e_t·m_t, m_t, u_t) from t = 1 (filtering), "backward" from t = T
    (smoothing), "none" returns e unchanged (a frame-wise guide; `hidden` must equal E).
    """

    def __init__(self, in_features: int, action_dim: int, hidden: int, direction: str = "forward") -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"summarizer direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
        self.direction = direction
        self.out_features = in_features if direction == "none" else hidden
        self.rnn = None if direction == "none" else nn.GRU(in_features + 1 + action_dim, hidden,
                                                           batch_first=True)

    def forward(self, e: torch.Tensor, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.rnn is None:
            return e
        m = mask.to(e.dtype).unsqueeze(-1)
        inputs = torch.cat([e * m, m, u], -1)
        if self.direction == "backward":
            return self.rnn(inputs.flip(1))[0].flip(1)
        return self.rnn(inputs)[0]


def _diag_normal(loc: torch.Tensor, scale: torch.Tensor) -> Independent:
    return Independent(Normal(loc, scale, validate_args=False), 1, validate_args=False)


class FusionCombiner(nn.Module):
    """q(z_t | z_{t−1}, h_t) ∝ p(z_t | z_{t−1}, u_t) · Normal(z_t; m(h_t), diag s(h_t)²).

    h_t proposes a Gaussian pseudo-observation of z_t; the guide is its precision-weighted product
    with the transition's prediction, a learned Kalman update (in the spirit of Karl et al. 2017,
    DVBF, where the transition is part of the recognition model). A dropped frame (observed = 0)
    gives the pseudo-observation zero precision: q is then the prediction itself.
    """

    def __init__(self, summary_features: int, latent_dim: int, hidden: int = 64,
                 activation: str = "relu") -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.observation = MLP((summary_features,), (hidden,), 2 * latent_dim, activation)

    def pseudo_observation(self, h_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, log s) of the frames' Gaussian evidence about z_t, each [*, d]."""
        m, log_s = self.observation(h_t).chunk(2, -1)
        return m, log_s.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)

    def forward(self, z_prev: torch.Tensor | None, h_t: torch.Tensor, prior: Distribution,
                observed: torch.Tensor) -> Distribution:
        assert isinstance(prior, Independent) and isinstance(prior.base_dist, Normal)
        mu_p, var_p = prior.base_dist.loc, prior.base_dist.scale.square()
        m, log_s = self.pseudo_observation(h_t)
        gain = var_p / (var_p + (2.0 * log_s).exp()) * observed.to(m.dtype).unsqueeze(-1)
        loc = mu_p + gain * (m - mu_p)
        scale = (var_p * (1.0 - gain)).clamp_min(1e-12).sqrt()
        return _diag_normal(loc, scale)


class GatedCombiner(nn.Module):
    """DMM's combiner: h = ½ (tanh(W z_{t−1} + b) + h_t), q = Normal(Linear(h), softplus(Linear(h))).

    At t = 1 a learned z_0 stands in for z_{t−1}. The prediction p(z_t | z_{t−1}) is not used.
    """

    def __init__(self, summary_features: int, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.z0 = nn.Parameter(torch.zeros(latent_dim))
        self.state = nn.Linear(latent_dim, summary_features)
        self.loc = nn.Linear(summary_features, latent_dim)
        self.scale = nn.Linear(summary_features, latent_dim)

    def forward(self, z_prev: torch.Tensor | None, h_t: torch.Tensor, prior: Distribution,
                observed: torch.Tensor) -> Distribution:
        if z_prev is None:
            z_prev = self.z0.expand(*h_t.shape[:-1], self.latent_dim)
        h = 0.5 * (torch.tanh(self.state(z_prev)) + h_t)
        return _diag_normal(self.loc(h), nn.functional.softplus(self.scale(h)) + 1e-4)


class FrameCombiner(nn.Module):
    """q(z_t | x_t) = Normal(μ, diag exp(log σ)²) read straight from h_t = [μ, log σ]: a VAE encoder
    applied frame by frame (ignores z_{t−1} and the prediction)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.family = GaussianFamily(bound_log_scale=False)

    def forward(self, z_prev: torch.Tensor | None, h_t: torch.Tensor, prior: Distribution,
                observed: torch.Tensor) -> Distribution:
        eta = h_t.reshape(*h_t.shape[:-1], 2, self.latent_dim)
        return self.family(eta, 1)
