"""The particle-filter evidence against the exact Kalman-filter log p(x) of a linear-Gaussian model."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, Normal

from vaelab.data.sequences import SequenceBatch
from vaelab.objectives.smc import effective_sample_size, smc_log_marginal, systematic_resample

# z_t = A z_{t−1} + N(0, Q²), x_t = C z_t + N(0, R²), z_1 ~ N(0, P0²)
A, Q, C, R, P0 = 0.95, 0.3, 1.0, 0.2, 1.0


def _normal(loc: torch.Tensor, scale: float | torch.Tensor) -> Independent:
    return Independent(Normal(loc, torch.as_tensor(scale, dtype=loc.dtype).expand_as(loc)), 1)


class LinearGaussianSSM:
    """Speaks the state-space model's step interface. Its guide is the locally optimal proposal
    p(z_t | z_{t−1}, x_t) (h_t = x_t), or with `bootstrap` the prior itself."""

    def __init__(self, bootstrap: bool = False) -> None:
        self.bootstrap = bootstrap

    data_kind = "unit"

    def summarize(self, batch: SequenceBatch) -> torch.Tensor:
        return batch.frames

    def initial_prior(self, batch_shape: tuple[int, ...]) -> Independent:
        return _normal(torch.zeros(*batch_shape, 1), P0)

    def transition(self, z_prev: torch.Tensor, u: torch.Tensor) -> Independent:
        return _normal(A * z_prev, Q)

    def posterior(self, z_prev, h_t, prior, observed):  # noqa: ANN001, ANN201
        if self.bootstrap:
            return prior
        loc, var = prior.base_dist.loc, prior.base_dist.scale.square()
        precision = 1 / var + C**2 / R**2
        return _normal((loc / var + C * h_t / R**2) / precision, precision.rsqrt())

    def emit(self, z: torch.Tensor) -> Independent:
        return _normal(C * z, R)


def kalman_log_marginal(x: torch.Tensor) -> torch.Tensor:
    """Exact log p(x_{1:T}) [B] for observations x [B, T]."""
    mean = torch.zeros(x.shape[0], dtype=torch.float64)
    var = torch.full_like(mean, P0**2)
    total = torch.zeros_like(mean)
    for t in range(x.shape[1]):
        if t > 0:
            mean, var = A * mean, A**2 * var + Q**2
        s = C**2 * var + R**2
        innovation = x[:, t].double() - C * mean
        total += -0.5 * (math.log(2 * math.pi) + s.log() + innovation**2 / s)
        gain = var * C / s
        mean, var = mean + gain * innovation, (1 - gain * C) * var
    return total


def _sequences(size: int, length: int, seed: int = 0) -> SequenceBatch:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(size, generator=g) * P0
    xs = []
    for t in range(length):
        if t > 0:
            z = A * z + Q * torch.randn(size, generator=g)
        xs.append(C * z + R * torch.randn(size, generator=g))
    frames = torch.stack(xs, 1).unsqueeze(-1)  # [B, T, 1]
    return SequenceBatch(frames, torch.zeros(size, length, 1), torch.ones(size, length, dtype=torch.bool))


def test_particle_filter_matches_the_kalman_filter_where_whole_sequence_sampling_fails() -> None:
    batch = _sequences(size=6, length=40)
    exact = kalman_log_marginal(batch.frames[..., 0])
    smc = smc_log_marginal(LinearGaussianSSM(), batch, particles=2000,
                           generator=torch.Generator().manual_seed(1))
    error = smc - exact  # nats per 40-step sequence; s.d. of one estimate about 0.07 here
    assert abs(float(error.mean())) < 0.1 and float(error.abs().max()) < 0.35
    bootstrap = LinearGaussianSSM(bootstrap=True)
    filtered = smc_log_marginal(bootstrap, batch, 2000, generator=torch.Generator().manual_seed(1))
    whole = smc_log_marginal(bootstrap, batch, 2000, resample_below=0.0,
                             generator=torch.Generator().manual_seed(1))
    assert abs(float((filtered - exact).mean())) < 0.3
    assert float((whole - exact).max()) < -20.0  # without resampling the weights degenerate


def test_every_step_and_adaptive_resampling_both_estimate_the_evidence() -> None:
    batch = _sequences(size=6, length=25, seed=3)
    exact = kalman_log_marginal(batch.frames[..., 0])
    for threshold in (1.0, 0.5):
        estimate = smc_log_marginal(LinearGaussianSSM(), batch, 2000, threshold,
                                    torch.Generator().manual_seed(0))
        assert abs(float((estimate - exact).mean())) < 0.1


def test_systematic_resampling_keeps_each_particle_in_proportion() -> None:
    weights = torch.tensor([[0.5, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 1.0]]).T  # [k = 4, B = 2]
    ancestors = systematic_resample(weights.log(), torch.Generator().manual_seed(0))
    assert ancestors[:, 0].tolist() == [0, 0, 1, 2] and ancestors[:, 1].tolist() == [3, 3, 3, 3]
    assert effective_sample_size(weights.log()).tolist() == pytest.approx([1 / 0.375, 1.0])


def test_bad_settings_are_refused() -> None:
    batch = _sequences(size=1, length=3)
    with pytest.raises(ValueError, match="particles"):
        smc_log_marginal(LinearGaussianSSM(), batch, particles=0)
    with pytest.raises(ValueError, match="resample_below"):
        smc_log_marginal(LinearGaussianSSM(), batch, resample_below=1.5)
