"""The matrix-product mixture of diagonal Gaussians equals torch's MixtureSameFamily, and learned
priors compute their distribution once inside `priors_fixed`."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vaelab.distributions.learned_priors import (
    MixtureOfGaussiansPrior,
    VampPrior,
    mixture_of,
    priors_fixed,
)
from vaelab.distributions.mixture import DiagonalGaussianMixture
from vaelab.models import ModelConfig, build_vae


def reference(logits: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> MixtureSameFamily:
    return MixtureSameFamily(Categorical(logits=logits), Independent(Normal(loc, scale), 1))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_log_prob_equals_mixture_same_family(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(7, generator=generator, dtype=dtype)
    loc = 2 * torch.randn(7, 5, generator=generator, dtype=dtype)
    scale = 0.05 + torch.rand(7, 5, generator=generator, dtype=dtype)
    z = loc[torch.randint(7, (4, 3), generator=generator)] + 0.3 * torch.randn(4, 3, 5, dtype=dtype,
                                                                              generator=generator)
    fast = DiagonalGaussianMixture(logits, loc, scale)
    exact = reference(logits.double(), loc.double(), scale.double()).log_prob(z.double())
    assert fast.log_prob(z).shape == (4, 3)
    tolerance = 1e-9 if dtype == torch.float64 else 2e-3
    torch.testing.assert_close(fast.log_prob(z).double(), exact, atol=tolerance, rtol=0)
    torch.testing.assert_close(fast.mean.double(), reference(logits, loc, scale).mean.double())
    torch.testing.assert_close(fast.stddev.double(), reference(logits, loc, scale).stddev.double())


def test_samples_follow_the_mixture() -> None:
    torch.manual_seed(0)
    loc = torch.tensor([[-3.0, 0.0], [3.0, 1.0]])
    mixture = DiagonalGaussianMixture(torch.tensor([0.0, 1.0986]), loc, torch.full((2, 2), 0.1))
    draws = mixture.sample((20_000,))
    assert draws.shape == (20_000, 2) and mixture.sample().shape == (2,)
    assert abs(float((draws[:, 0] > 0).float().mean()) - 0.75) < 0.02  # weights 1 : 3
    torch.testing.assert_close(draws.mean(0), mixture.mean, atol=0.05, rtol=0)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"need loc and scale \[K, d\]"):
        DiagonalGaussianMixture(torch.zeros(3), torch.zeros(3, 2), torch.ones(2, 2))


def test_priors_use_the_fast_form_with_the_same_values() -> None:
    torch.manual_seed(0)
    prior = MixtureOfGaussiansPrior(latent_dim=4, components=6)
    z = torch.randn(10, 4)
    exact = reference(prior.logits, prior.means, prior.log_scales.exp()).log_prob(z)
    torch.testing.assert_close(prior().log_prob(z), exact)
    other = Independent(Normal(torch.zeros(3, 2, 2), 1.0), 2)  # not [K] x [d]: torch's mixture
    assert isinstance(mixture_of(torch.zeros(3), other), MixtureSameFamily)


def test_a_vamp_prior_encodes_its_pseudo_inputs_once_inside_priors_fixed() -> None:
    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=3, hidden=(8,), prior="vamp", prior_components=5), (1, 4, 4))
    assert isinstance(model.prior_module, VampPrior)
    calls = []
    model.encoder.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    z = torch.randn(6, 3)
    outside = model.log_prior(z)
    model.log_prior(z)
    assert calls == [5, 5]  # every call encodes the 5 pseudo-inputs
    with torch.no_grad(), priors_fixed(model):
        inside = [model.log_prior(z) for _ in range(3)]
        with priors_fixed(model):  # nested: still the same distribution
            model.log_prior(z)
        model.log_prior(z)
    assert calls == [5, 5, 5]
    for value in inside:
        torch.testing.assert_close(value, outside.detach())
    model.log_prior(z)  # after the block the prior follows the weights again
    assert calls == [5, 5, 5, 5] and model.prior_module.fixed is None
