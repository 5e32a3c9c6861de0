"""Estimators of log p(x) against the closed form of a linear-Gaussian model."""

from __future__ import annotations

import math

import pytest
import torch

from vaelab.models import LinearGaussianModel
from vaelab.objectives import (
    elbo,
    importance_sampled_log_marginal,
    iwae_bound,
    prior_monte_carlo_log_marginal,
    streaming_log_mean_exp,
)


def ppca(data_dim: int, latent_dim: int, noise: float, guide_factor: float, shift: float = 0.1,
         seed: int = 0):
    torch.manual_seed(seed)
    model = LinearGaussianModel(data_dim, latent_dim, noise_scale=noise)
    with torch.no_grad():
        model.bias.normal_()
    model.set_guide_to_posterior(scale_factor=guide_factor)
    with torch.no_grad():  # a guide near, but not at, the posterior
        model.guide_bias.add_(shift * torch.randn(latent_dim))
    x = model.likelihood(model.prior().sample((64,))).sample()
    return model, x.detach()


def test_iwae_with_one_sample_is_the_elbo_at_the_same_draw() -> None:
    model, x = ppca(8, 3, 0.5, 1.3)
    torch.manual_seed(1)
    bound = iwae_bound(model, x, samples=1).bound
    torch.manual_seed(1)
    reference = elbo(model, x, samples=1, analytic_kl=False).bound
    torch.testing.assert_close(bound, reference)


def test_exact_guide_makes_every_estimator_exact() -> None:
    torch.manual_seed(0)
    model = LinearGaussianModel(6, 2, noise_scale=0.4)
    with torch.no_grad():  # orthogonal columns -> diagonal posterior -> the guide can be exact
        q, _ = torch.linalg.qr(torch.randn(6, 2))
        model.weight.copy_(q * torch.tensor([2.0, 0.7]))
    model.set_guide_to_posterior()
    x = torch.randn(32, 6)
    exact = model.exact_log_marginal(x)
    torch.testing.assert_close(elbo(model, x, analytic_kl=False).bound, exact, atol=1e-4, rtol=0)
    torch.testing.assert_close(importance_sampled_log_marginal(model, x, k=3).log_px, exact,
                               atol=1e-4, rtol=0)


def test_importance_sampling_converges_to_the_closed_form() -> None:
    model, x = ppca(10, 3, 0.5, 1.4)
    x = x[:16]
    exact = model.exact_log_marginal(x)
    estimate = importance_sampled_log_marginal(model, x, k=20_000, sample_budget=4096)
    error = (estimate.log_px - exact).abs()
    assert error.max() < 0.05, error.max()
    assert (estimate.ess > 1000).all()


def test_bounds_are_ordered_elbo_iwae_k_iwae_kprime_log_px() -> None:
    model, x = ppca(10, 3, 0.5, 1.5)
    x = x[:8]
    exact = model.exact_log_marginal(x)
    reps = 2000
    xs = x.repeat(reps, 1)  # many independent replicates of each example
    with torch.no_grad():
        chain = [
            elbo(model, xs).bound,
            iwae_bound(model, xs, 5).bound,
            iwae_bound(model, xs, 50).bound,
            exact.repeat(reps),
        ]
    # paired differences on the same examples: only Monte-Carlo noise remains in their spread
    for lower, upper in zip(chain, chain[1:], strict=False):
        gap = upper - lower
        stderr = gap.std().item() / math.sqrt(gap.numel())
        assert gap.mean().item() > 3 * stderr, (gap.mean().item(), stderr)
    # and the gap to log p(x) shrinks as k grows
    assert (exact.repeat(reps) - chain[2]).mean() < 0.5 * (exact.repeat(reps) - chain[0]).mean()


def test_prior_estimator_fails_in_high_dimensions_but_works_in_low() -> None:
    high, x_high = ppca(200, 10, 0.1, 1.1, shift=0.0)
    exact_high = high.exact_log_marginal(x_high[:16])
    prior_high = prior_monte_carlo_log_marginal(high, x_high[:16], k=100).log_px
    is_high = importance_sampled_log_marginal(high, x_high[:16], k=100).log_px
    assert (exact_high - prior_high).mean() > 100.0  # hopeless: hundreds of nats short
    assert (exact_high - is_high).abs().mean() < 1.0

    low, x_low = ppca(2, 1, 0.5, 1.2)
    exact_low = low.exact_log_marginal(x_low)
    assert (exact_low - prior_monte_carlo_log_marginal(low, x_low, k=10).log_px).abs().mean() > 0.01
    prior_low = prior_monte_carlo_log_marginal(low, x_low, k=20_000).log_px
    assert (exact_low - prior_low).abs().max() < 0.05


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_streaming_log_mean_exp_matches_one_shot(chunk: int) -> None:
    weights = torch.randn(100, 5) * 30
    draws = iter(weights.split(chunk))
    result = streaming_log_mean_exp(lambda c: next(draws), k=100, chunk=chunk)
    expected = torch.logsumexp(weights.double(), 0) - math.log(100)
    torch.testing.assert_close(result.log_px, expected.float())
    w = torch.softmax(weights.double(), 0)
    torch.testing.assert_close(result.ess, (1.0 / (w**2).sum(0)).float())


def test_invalid_sample_counts_are_refused() -> None:
    model, x = ppca(4, 2, 0.5, 1.0)
    with pytest.raises(ValueError, match="samples"):
        iwae_bound(model, x, samples=0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        importance_sampled_log_marginal(model, x, k=0)


def test_grey_values_given_to_a_bernoulli_model_are_refused_by_every_estimator() -> None:
    from vaelab import VAE
    from vaelab.objectives.ais import annealed_importance_sampling

    torch.manual_seed(0)
    model = VAE.from_networks(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 4)),
                              torch.nn.Linear(2, 6), "bernoulli", latent_dim=2, data_shape=(1, 2, 3))
    grey = torch.rand(5, 1, 2, 3)
    for estimate in (lambda x: elbo(model, x), lambda x: iwae_bound(model, x),
                     lambda x: importance_sampled_log_marginal(model, x, k=4),
                     lambda x: prior_monte_carlo_log_marginal(model, x, k=4),
                     lambda x: annealed_importance_sampling(model, x, chains=2)):
        with pytest.raises(ValueError, match="values other than 0 and 1 but the model's likelihood is "
                                             "Bernoulli"):
            estimate(grey)
        estimate(torch.bernoulli(grey))  # binary values are scored
    assert elbo(model, grey, check_input=False).bound.shape == (5,)  # a loop that checked its data
