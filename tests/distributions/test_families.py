"""Families build the right torch distributions; the 8-bit family is a proper distribution."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal, StudentT

from vaelab.distributions import (
    DiscretizedLogistic,
    StandardNormalPrior,
    bits_per_dim,
    kl_or_estimate,
    make_family,
)


def test_bernoulli_family_is_binary_cross_entropy() -> None:
    eta = torch.randn(5, 1, 1, 4, 4)
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.3))
    dist = make_family("bernoulli")(eta, 3)
    expected = -F.binary_cross_entropy_with_logits(eta[:, 0], x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(dist.log_prob(x), expected)
    assert dist.batch_shape == (5,) and dist.event_shape == (1, 4, 4)


def test_gaussian_family_learned_and_fixed_scale() -> None:
    eta = torch.randn(3, 2, 6)
    x = torch.randn(3, 6)
    learned = make_family("gaussian")(eta, 1)
    torch.testing.assert_close(learned.log_prob(x),
                               Normal(eta[:, 0], eta[:, 1].exp()).log_prob(x).sum(-1))
    fixed = make_family("gaussian-fixed", fixed_scale=0.3)(eta[:, :1], 1)
    torch.testing.assert_close(fixed.log_prob(x), Normal(eta[:, 0], 0.3).log_prob(x).sum(-1))


def test_discretized_logistic_sums_to_one_over_256_values() -> None:
    loc = torch.tensor([0.0, 3.0, 127.5, 250.0, 255.0, 80.0])
    scale = torch.tensor([1.0, 0.2, 30.0, 5.0, 0.01, 1e-3])
    values = torch.arange(256.0).unsqueeze(1)
    probs = DiscretizedLogistic(loc, scale).log_prob(values).exp().sum(0)
    torch.testing.assert_close(probs, torch.ones(6), atol=1e-4, rtol=0)


def test_discretized_logistic_samples_match_probabilities() -> None:
    dist = DiscretizedLogistic(torch.tensor(100.0), torch.tensor(3.0))
    samples = dist.sample((50_000,))
    assert samples.min() >= 0 and samples.max() <= 255 and (samples == samples.round()).all()
    frequency = (samples == 100).float().mean()
    assert abs(frequency - dist.log_prob(torch.tensor(100.0)).exp()) < 0.01


def test_unknown_family_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        make_family("poisson")


def test_prior_scale_sets_the_standard_deviation() -> None:
    prior = StandardNormalPrior(4, scale=2.0)()
    assert prior.event_shape == (4,)
    torch.testing.assert_close(prior.stddev, torch.full((4,), 2.0))
    with pytest.raises(ValueError, match="scale"):
        StandardNormalPrior(4, scale=0.0)


def test_kl_is_analytic_for_normals_and_monte_carlo_otherwise() -> None:
    q = Independent(Normal(torch.randn(3, 2), torch.rand(3, 2) + 0.5), 1)
    p = StandardNormalPrior(2)()
    z = q.sample((20_000,))
    analytic = kl_or_estimate(q, p, z)
    estimate = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(analytic, estimate, atol=0.05, rtol=0)

    q_student = Independent(StudentT(5.0, q.mean, q.stddev), 1)  # no closed-form KL to a Normal
    z_student = q_student.sample((10,))
    expected = (q_student.log_prob(z_student) - p.log_prob(z_student)).mean(0)
    torch.testing.assert_close(kl_or_estimate(q_student, p, z_student), expected)


def test_bits_per_dim_converts_nats() -> None:
    assert bits_per_dim(torch.tensor(-784 * math.log(2.0)), 784).item() == pytest.approx(1.0)
