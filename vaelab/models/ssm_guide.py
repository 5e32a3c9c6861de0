"""The guide of a state-space model: q(z_t | z_{t−1}, x) = Combiner(z_{t−1}, h_t).

Frames are encoded one by one (`FrameEncoder`), a recurrent `Summarizer` turns the encodings
into h_t — a forward GRU for filtering (h_t sees x_{≤t}), a backward GRU for smoothing
(x_{≥t}), or nothing for a frame-wise guide (h_t = e_t) — and a `Combiner` turns h_t and the
previous state into q(z_t | ·). Structure after Krishnan et al. 2017 (Deep Markov Models) and
pyro's examples/dmm.py. The guides (`model.guide`: which way the summary looks) and the combiners
(`model.combiner`) a config names are registered in vaelab.components.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaelab.choices import COMBINERS as COMBINERS
from vaelab.distributions.families import GaussianFamily
from vaelab.nn.mlp import MLP

if TYPE_CHECKING:
    from vaelab.models.ssm_config import SSMConfig

DIRECTIONS: Final = ("forward", "backward", "none")
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

    "forward" runs a GRU over (e_t·m_t, m_t, u_t) from t = 1 (filtering: h_t sees x_{≤t}),
    "backward" from t = T (smoothing: x_{≥t}), "none" returns e unchanged (a frame-wise guide).
    The last `skip` features of e_t (a frame's keypoint) are appended to the GRU's state — a skip
    connection handing the combiner what frame t alone shows — and, looking backward, those of
    frame t+1 with a flag saying whether frame t+1 exists and was seen: [GRU_t, k_t, k_{t+1}, m_{t+1}];
    looking forward with `lookback`, those of frames t−1 and t−2 with their flags:
    [GRU_t, k_t, k_{t−1}, m_{t−1}, k_{t−2}, m_{t−2}] (a second-order velocity measurement).
    """

    def __init__(self, in_features: int, action_dim: int, hidden: int, direction: str = "forward",
                 skip: int = 0, lookback: bool = False) -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"summarizer direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
        self.direction = direction
        self.skip = 0 if direction == "none" else skip
        self.lookahead = direction == "backward" and skip > 0
        self.lookback = lookback and direction == "forward" and skip > 0
        self.skip_features = (self.skip * 2 + 1 if self.lookahead
                              else self.skip * 3 + 2 if self.lookback else self.skip)
        self.out_features = in_features if direction == "none" else hidden + self.skip_features
        self.rnn = None if direction == "none" else nn.GRU(in_features + 1 + action_dim, hidden,
                                                           batch_first=True)

    def _gru_inputs(self, e: torch.Tensor, u: torch.Tensor, mask: torch.Tensor,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The observed-mask m [B, T, 1], the GRU's inputs (e·m, m, u) and the seen keypoints
        (the last `skip` features of e·m)."""
        m = mask.to(e.dtype).unsqueeze(-1)
        seen = e * m
        return m, torch.cat([seen, m, u], -1), seen[..., seen.shape[-1] - self.skip:]

    def forward(self, e: torch.Tensor, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.rnn is None:
            return e
        m, inputs, here = self._gru_inputs(e, u, mask)
        if self.direction == "backward":
            h = self.rnn(inputs.flip(1))[0].flip(1)
        else:
            h = self.rnn(inputs)[0]
        if not self.skip:
            return h
        parts = [h, here]
        if self.lookahead:
            after = torch.cat([here[:, 1:], torch.zeros_like(here[:, :1])], 1)
            seen_after = torch.cat([m[:, 1:], torch.zeros_like(m[:, :1])], 1)
            parts += [after, seen_after]
        if self.lookback:
            for back in (1, 2):
                parts += [torch.cat([torch.zeros_like(here[:, :back]), here[:, :-back]], 1),
                          torch.cat([torch.zeros_like(m[:, :back]), m[:, :-back]], 1)]
        return torch.cat(parts, -1)

    def at_end(self, e: torch.Tensor, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """h [B, T, H] where h_t is what `forward` gives at step t of the sequence cut after frame t.

        A forward or frame-wise summary never looks ahead, so it is `forward` itself; a backward one
        cut after frame t has read frame t alone (one GRU step from a zero state) and sees no frame
        t+1. One pass for all t: what an online filter built on a smoothing guide needs.
        """
        if self.direction != "backward":
            return self(e, u, mask)
        batch, length = e.shape[:2]
        m, inputs, here = self._gru_inputs(e, u, mask)
        assert self.rnn is not None
        h = self.rnn(inputs.reshape(batch * length, 1, -1))[0].reshape(batch, length, -1)
        if not self.skip:
            return h
        return torch.cat([h, here, torch.zeros_like(here), torch.zeros_like(m)], -1)


class FilteringGuide:
    """q(z_t | z_{t−1}, x_{≤t}): a forward GRU over the frame encodings (an online filter)."""

    name: ClassVar[str] = "filter"
    direction: ClassVar[str] = "forward"
    #: whether each frame is encoded straight to q(z_t | x_t) (no summary, no architecture)
    frame_wise: ClassVar[bool] = False


class SmoothingGuide:
    """q(z_t | z_{t−1}, x_{≥t}): a backward GRU over the frame encodings (a smoother)."""

    name: ClassVar[str] = "smooth"
    direction: ClassVar[str] = "backward"
    frame_wise: ClassVar[bool] = False


class FrameWiseGuide:
    """q(z_t | x_t): a VAE encoder applied to each frame (with the transition "none")."""

    name: ClassVar[str] = "frame"
    direction: ClassVar[str] = "none"
    frame_wise: ClassVar[bool] = True


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def _diag_normal(loc: torch.Tensor, scale: torch.Tensor) -> Independent:
    return Independent(Normal(loc, scale, validate_args=False), 1, validate_args=False)


class FusionCombiner(nn.Module):
    """q(z_t | z_{t−1}, h_t) ∝ p(z_t | z_{t−1}, u_t) · Normal(z_t; m, diag s²).

    The frames (through h_t) propose a Gaussian pseudo-observation of z_t; the guide is its
    precision-weighted product with the transition's prediction, a learned Kalman update (in the
    spirit of Karl et al. 2017, DVBF, where the transition is part of the recognition model).
    (m, log s) = MLP(h_t) (its last layer starts at zero, log s at `initial_log_scale`), plus a
    linear path from the last `skip` features of h_t (a frame's keypoints) to m. With
    `use_previous` the MLP also sees z_{t−1}. A dropped frame (observed = 0) gives the
    pseudo-observation zero precision: q is then the prediction itself.

    With `circle_dt` > 0 the latent reads (position on the unit circle, angular velocity, ...):
    the position is measured as the direction of the first keypoint about the image centre,
    (c, s) = (k_y, k_x) / ‖k‖: an angle from the image's downward axis, for an object turning about
    the centre (the pendulum's pivot). Nothing learned sits between the keypoint and the angle, so
    the latent angle cannot be warped against the object's true angle to suit a wrong rule (a
    learned pivot drifted and did exactly that); a physics transition learns where "down" is. And
    the velocity's pseudo-observation is the finite difference of positions,
    ∠(z_{t−1}, m_t) / dt — velocity is the time derivative of position — which measures the
    velocity in the middle of the interval, carried to time t with half the transition's own
    predicted change, (E_p[ω_t] − ω_{t−1}) / 2, plus the MLP's correction. With `lookahead` (a
    smoothing guide, whose h_t also holds frame t+1's keypoint) it is the central difference
    ∠(z_{t−1}, m_{t+1}) / 2dt wherever frame t+1 was seen: no lag at all.

    With `lookback` (a filtering guide whose h_t also holds the keypoints of frames t−1 and t−2)
    it is the second-order backward difference (3θ_t − 4θ_{t−1} + θ_{t−2}) / 2dt of the keypoint
    angles wherever both earlier frames were seen: no lag to second order and no transition in the
    measurement (carrying with the transition's own prediction lets the ELBO confirm a wrong input
    gain: +12 % on the default pendulum started at the true constants), but 2.5× the keypoint noise,
    under which the learned damping collapses toward 0 — an option, not the default.

    `velocity_correction` adds the MLP's output to that finite difference. Left off, the velocity
    measurement is a fixed function of the keypoints and the prediction: a learned correction
    co-adapts with the transition and biases the constants (trained jointly, g/L came out 5–10 %
    low with a filtering guide), since the ELBO favours rules under which this guide is tight.
    """

    name: ClassVar[str] = "fusion"

    @classmethod
    def from_config(cls, config: SSMConfig, summarizer: Summarizer, dt: float, readout: str,
                    skip: int) -> FusionCombiner:
        """The configured fusion guide; on a circle readout with d ≥ 3 it measures position and
        velocity from the keypoints (`circle_dt` = dt)."""
        d = config.latent_dim
        circle_dt = dt if readout == "circle" and d >= 3 else 0.0
        return cls(summarizer.out_features, d, config.combiner_hidden, config.activation, skip=skip,
                   circle_dt=circle_dt, lookahead=summarizer.lookahead,
                   velocity_correction=config.velocity_correction, lookback=summarizer.lookback)

    def __init__(self, summary_features: int, latent_dim: int, hidden: int = 64,
                 activation: str = "relu", use_previous: bool = False, skip: int = 0,
                 initial_log_scale: float = -3.0, circle_dt: float = 0.0, lookahead: bool = False,
                 velocity_correction: bool = True, lookback: bool = False) -> None:
        super().__init__()
        if circle_dt > 0 and latent_dim < 3:
            raise ValueError(f"circle_dt needs latent_dim >= 3 (position on a circle, velocity), "
                             f"got {latent_dim}")
        self.latent_dim = latent_dim
        self.use_previous = use_previous
        self.skip = skip
        self.lookahead = lookahead
        self.lookback = lookback and not lookahead and skip > 0
        self.skip_features = (2 * skip + 1 if lookahead and skip
                              else 3 * skip + 2 if self.lookback else skip)
        self.circle_dt = float(circle_dt)
        self.velocity_correction = velocity_correction
        inputs = summary_features + (latent_dim if use_previous else 0)
        self.observation = MLP((inputs,), (hidden, hidden), 2 * latent_dim, activation)
        last = self.observation.layers[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
            last.bias[latent_dim:] = initial_log_scale
        self.measures_position = self.circle_dt > 0 and skip >= 2
        linear_skip = skip > 0 and not self.measures_position
        self.skip_path = nn.Linear(self.skip_features, latent_dim, bias=False) if linear_skip else None
        if self.skip_path is not None:
            nn.init.orthogonal_(self.skip_path.weight, gain=1.5)

    def pseudo_observation(self, z_prev: torch.Tensor | None, h_t: torch.Tensor,
                           predicted: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, log s) of the evidence about z_t, each [*, d]; `predicted` is E_p[z_t | z_{t−1}]."""
        inputs = h_t
        if self.use_previous:
            previous = torch.zeros_like(h_t[..., :self.latent_dim]) if z_prev is None else z_prev
            inputs = torch.cat([h_t, previous], -1)
        m, log_s = self.observation(inputs).chunk(2, -1)
        skipped = h_t[..., h_t.shape[-1] - self.skip_features:]
        if self.skip_path is not None:
            m = m + self.skip_path(skipped)
        if self.circle_dt > 0:
            if self.measures_position:
                position = _unit(skipped[..., :2].flip(-1))  # (k_y, k_x): the angle from the downward axis
            else:
                position = _unit(m[..., :2])
            velocity = m[..., 2:3] if self.velocity_correction else torch.zeros_like(m[..., 2:3])
            if z_prev is not None:
                backward = self.angle_between(z_prev, position) / self.circle_dt
                if predicted is not None:  # mid-interval velocity carried to time t
                    backward = backward + 0.5 * (predicted[..., 2:3] - z_prev[..., 2:3])
                if self.lookback and self.measures_position:
                    # second-order backward difference where frames t−1 and t−2 were seen
                    k = self.skip
                    before, seen = _unit(skipped[..., k:k + 2].flip(-1)), skipped[..., k + 2:k + 3]
                    before2, seen2 = _unit(skipped[..., k + 3:k + 5].flip(-1)), skipped[..., k + 5:k + 6]
                    last, previous = self.angle_between(before, position), self.angle_between(before2, before)
                    second_order = (3 * last - previous) / (2 * self.circle_dt)
                    backward = seen * seen2 * second_order + (1 - seen * seen2) * backward
                if self.lookahead and self.measures_position:
                    # central difference (θ_{t+1} − θ_{t−1}) / 2dt where frame t+1 was seen
                    after, seen = _unit(skipped[..., self.skip:self.skip + 2].flip(-1)), skipped[..., -1:]
                    central = self.angle_between(z_prev, after) / (2 * self.circle_dt)
                    backward = seen * central + (1 - seen) * backward
                velocity = velocity + backward
            elif self.lookahead and self.measures_position:
                # the first frame has no past: the forward difference (θ_2 − θ_1) / dt if frame 2 was seen
                after, seen = _unit(skipped[..., self.skip:self.skip + 2].flip(-1)), skipped[..., -1:]
                velocity = velocity + seen * self.angle_between(position, after) / self.circle_dt
            m = torch.cat([position, velocity, m[..., 3:]], -1)
        return m, log_s.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)

    @staticmethod
    def angle_between(z_prev: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """atan2(z_{t−1} × p, z_{t−1} · p) [*, 1]: the angle that turns position z_{t−1} into the unit
        vector p (the angle itself, not its sine, which would shrink fast motion)."""
        a = z_prev[..., :2]
        cross = a[..., :1] * position[..., 1:2] - a[..., 1:2] * position[..., :1]
        return torch.atan2(cross, (a * position).sum(-1, keepdim=True))

    def forward(self, z_prev: torch.Tensor | None, h_t: torch.Tensor, prior: Distribution,
                observed: torch.Tensor) -> Distribution:
        assert isinstance(prior, Independent) and isinstance(prior.base_dist, Normal)
        mu_p, var_p = prior.base_dist.loc, prior.base_dist.scale.square()
        m, log_s = self.pseudo_observation(z_prev, h_t, mu_p)
        gain = var_p / (var_p + (2.0 * log_s).exp()) * observed.to(m.dtype).unsqueeze(-1)
        loc = mu_p + gain * (m - mu_p)
        scale = (var_p * (1.0 - gain)).clamp_min(1e-12).sqrt()
        return _diag_normal(loc, scale)


class GatedCombiner(nn.Module):
    """DMM's combiner: h = ½ (tanh(W z_{t−1} + b) + h_t), q = Normal(Linear(h), softplus(Linear(h))).

    At t = 1 a learned z_0 stands in for z_{t−1}. The prediction p(z_t | z_{t−1}) is not used.
    """

    name: ClassVar[str] = "gated"

    @classmethod
    def from_config(cls, config: SSMConfig, summarizer: Summarizer, dt: float, readout: str,
                    skip: int) -> GatedCombiner:
        return cls(summarizer.out_features, config.latent_dim)

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

    name: ClassVar[str] = "frame"

    @classmethod
    def from_config(cls, config: SSMConfig, summarizer: Summarizer, dt: float, readout: str,
                    skip: int) -> FrameCombiner:
        return cls(config.latent_dim)

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.family = GaussianFamily(bound_log_scale=False)

    def forward(self, z_prev: torch.Tensor | None, h_t: torch.Tensor, prior: Distribution,
                observed: torch.Tensor) -> Distribution:
        eta = h_t.reshape(*h_t.shape[:-1], 2, self.latent_dim)
        return self.family(eta, 1)
