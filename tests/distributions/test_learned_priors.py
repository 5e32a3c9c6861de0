"""Learned priors are proper densities and follow the guide they share."""

from __future__ import annotations

import math

import torch
from torch.distributions import Independent, Normal

from vaelab.distributions.families import GaussianFamily
from vaelab.distributions.learned_priors import MixtureOfGaussiansPrior, VampPrior
from vaelab.models import ConditionalDistribution
from vaelab.nn import MLP


def integral_by_importance_sampling(log_density, dim: int, n: int = 200_000) -> float:
    """∫ p(z) dz estimated as E_r[p(z) / r(z)] with a wide Normal r."""
    proposal = Independent(Normal(torch.zeros(dim), torch.full((dim,), 3.0)), 1)
    z = proposal.sample((n,))
    return torch.exp(log_density(z) - proposal.log_prob(z)).mean().item()


def small_guide(data_dim: int, latent_dim: int) -> ConditionalDistribution:
    net = MLP((data_dim,), (16,), 2 * latent_dim, "tanh")
    return ConditionalDistribution(net, GaussianFamily(), (latent_dim,), (data_dim,))


def test_vamp_prior_integrates_to_one_and_is_the_guides_mixture() -> None:
    torch.manual_seed(0)
    guide = small_guide(5, 2)
    prior_module = VampPrior((5,), components=4)
    prior = prior_module(guide)
    assert abs(integral_by_importance_sampling(prior.log_prob, 2) - 1.0) < 0.02
    z = torch.randn(7, 2)
    by_hand = torch.logsumexp(guide(prior_module.pseudo_inputs).log_prob(z.unsqueeze(1)), 1)
    torch.testing.assert_close(prior.log_prob(z), by_hand - math.log(4))
    assert 0.0 <= prior_module.pseudo_inputs.min() and prior_module.pseudo_inputs.max() <= 1.0


def test_vamp_prior_shares_the_guides_weights() -> None:
    guide = small_guide(5, 2)
    prior_module = VampPrior((5,), components=3)
    prior_module(guide).log_prob(torch.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in guide.parameters())
    assert prior_module.raw_inputs.grad is not None
    assert not any(p is q for p in prior_module.parameters() for q in guide.parameters())


def test_mixture_prior_integrates_to_one_and_samples_its_components() -> None:
    torch.manual_seed(0)
    prior = MixtureOfGaussiansPrior(2, components=3)()
    assert abs(integral_by_importance_sampling(prior.log_prob, 2) - 1.0) < 0.02
    samples = prior.sample((20_000,))
    torch.testing.assert_close(samples.mean(0), prior.mean, atol=0.05, rtol=0)
