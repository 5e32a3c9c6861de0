"""Latent statistics against constructions whose answer is known exactly."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.distributions import kl_divergence

from vaelab.models import LinearGaussianModel
from vaelab.reports import active_units, kl_per_dimension, pca_2d, posterior_means, unit_activity


def _model_with_dead_units() -> LinearGaussianModel:
    """A guide whose mean reads the input in dimensions 0 and 1, barely in 2, never in 3 and 4."""
    model = LinearGaussianModel(data_dim=6, latent_dim=5)
    with torch.no_grad():
        weight = torch.zeros(5, 6)
        weight[0, 0] = 1.0
        weight[1, 1], weight[1, 2] = 0.5, 0.5
        weight[2, 3] = 0.01  # activity ≈ 1e-4: below Burda's 0.01 threshold
        model.guide_weight.copy_(weight)
        model.guide_bias.copy_(torch.tensor([0.0, 1.0, -2.0, 3.0, 0.5]))  # offsets never count
        model.guide_log_scale.copy_(torch.tensor([-1.0, -0.5, 0.0, 0.0, 0.2]))
        model.bias.zero_()
    return model


def test_active_units_follow_burdas_criterion_on_known_dead_units() -> None:
    model = _model_with_dead_units()
    x = torch.randn(2000, 6, generator=torch.Generator().manual_seed(0))
    means = posterior_means(model, x, batch_size=300)
    assert means.shape == (2000, 5)
    activity = unit_activity(means)
    expected = np.var(means.numpy().astype(np.float64), axis=0, ddof=1)
    np.testing.assert_allclose(activity.numpy(), expected, rtol=1e-5, atol=1e-12)
    assert abs(activity[0] - 1.0) < 0.1 and abs(activity[1] - 0.5) < 0.06  # Var(x0), Var((x1+x2)/2)
    assert activity[2] < 1e-3 and activity[3] == 0.0 and activity[4] == 0.0
    assert active_units(means).tolist() == [True, True, False, False, False]


def test_kl_per_dimension_is_the_closed_form_and_sums_to_the_kl() -> None:
    model = _model_with_dead_units()
    x = torch.randn(300, 6, generator=torch.Generator().manual_seed(1))
    kl = kl_per_dimension(model, x, batch_size=128)
    assert kl is not None and kl.shape == (5,)
    with torch.no_grad():
        q = model.posterior(x)
        mu, s = q.mean, q.stddev
        closed = (0.5 * (s**2 + mu**2 - 1.0) - s.log()).mean(0)
        total = kl_divergence(q, model.prior()).mean()
    torch.testing.assert_close(kl, closed, rtol=1e-5, atol=1e-6)
    assert math.isclose(float(kl.sum()), float(total), rel_tol=1e-5)


def test_pca_finds_the_direction_of_a_line() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=500)
    direction = np.array([1.0, 2.0, -2.0]) / 3.0
    points = t[:, None] * direction + 1e-3 * rng.normal(size=(500, 3)) + 5.0
    projected, explained = pca_2d(points)
    assert projected.shape == (500, 2)
    assert explained[0] > 0.999 and explained[1] < 1e-3
    assert abs(abs(np.corrcoef(projected[:, 0], t)[0, 1]) - 1.0) < 1e-4
