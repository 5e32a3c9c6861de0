"""q*(z | x): the best member of the guide's family per example, against the closed form of a
linear-Gaussian model (whose posterior is Gaussian with a full covariance)."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from vaelab.models import LinearGaussianModel
from vaelab.objectives.local_guide import local_guide, optimized_elbo


def ppca(seed: int = 0) -> tuple[LinearGaussianModel, torch.Tensor]:
    torch.manual_seed(seed)
    model = LinearGaussianModel(6, 3, noise_scale=0.5)
    with torch.no_grad():
        model.bias.normal_()
    model.set_guide_to_posterior()
    with torch.no_grad():  # an encoder that misses: the amortization gap is not zero
        model.guide_bias.add_(0.5 * torch.randn(3))
    x = model.likelihood(model.prior().sample((40,))).sample()
    return model, x


def mean_field_optimum(model: LinearGaussianModel, x: torch.Tensor) -> Independent:
    """The diagonal Gaussian closest to p(z | x) in KL(q ‖ p): the posterior mean, variances
    1 / diag(precision)."""
    posterior = model.exact_posterior(x)
    variances = 1.0 / torch.diagonal(posterior.precision_matrix, dim1=-2, dim2=-1)
    return Independent(Normal(posterior.loc, variances.sqrt()), 1)


def as_full(q: Independent) -> MultivariateNormal:
    return MultivariateNormal(q.base_dist.loc, scale_tril=torch.diag_embed(q.base_dist.scale))


def test_the_optimised_elbo_reaches_the_mean_field_optimum_in_closed_form() -> None:
    model, x = ppca()
    found = optimized_elbo(model, x, steps=600, lr=0.05, samples=32, eval_samples=4000)
    posterior, exact = model.exact_posterior(x), model.exact_log_marginal(x)
    best = exact - kl_divergence(as_full(mean_field_optimum(model, x)), posterior)  # L[q*]
    amortized = exact - kl_divergence(as_full(model.posterior(x)), posterior)   # L[q]
    torch.testing.assert_close(found.optimized, best, atol=0.05, rtol=0)
    torch.testing.assert_close(found.amortized, amortized, atol=0.1, rtol=0)
    assert bool(found.converged.all())
    assert float((found.optimized - found.amortized).mean()) > 0.5  # the encoder misses


def test_the_models_weights_are_left_as_they_were() -> None:
    model, x = ppca()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimized_elbo(model, x[:4], steps=5, eval_samples=10)
    assert all(torch.equal(p, before[name]) and p.requires_grad for name, p in model.named_parameters())


def test_a_full_covariance_gaussian_guide_is_parameterised_and_rebuilt() -> None:
    loc, scale = torch.randn(2, 3), torch.tensor([[1.0, 0, 0], [0.3, 0.5, 0], [-0.2, 0.1, 2.0]])

    class Full(LinearGaussianModel):
        def posterior(self, x: torch.Tensor) -> MultivariateNormal:
            return MultivariateNormal(loc, scale_tril=scale.expand(2, 3, 3))

    guide = local_guide(Full(4, 3), torch.zeros(2, 4))
    rebuilt = guide.family(guide.eta)
    torch.testing.assert_close(rebuilt.scale_tril, scale.expand(2, 3, 3))
    torch.testing.assert_close(rebuilt.loc, loc)


def test_bad_settings_are_one_clear_error() -> None:
    model, x = ppca()
    with pytest.raises(ValueError, match="steps, samples and eval_samples must be >= 1"):
        optimized_elbo(model, x, steps=0)
