"""The stacked VAE: its densities factorise as the graph says, and the objectives apply."""

from __future__ import annotations

import math

import pytest
import torch

from vaelab.models import HierarchicalVAE, ModelConfig, build_model
from vaelab.objectives import elbo, importance_sampled_log_marginal, iwae_bound


def burda_like() -> HierarchicalVAE:
    config = ModelConfig(latent_dim=6, hidden=(20,), upper_latents=(4, 3), upper_hidden=(10,),
                         activation="tanh")
    model = build_model(config, (1, 5, 5))
    assert isinstance(model, HierarchicalVAE)
    return model


def test_latents_have_one_tensor_per_layer() -> None:
    model = burda_like()
    x = torch.bernoulli(torch.rand(2, 1, 5, 5))
    z, log_q = model.guide_sample(x, (7,))
    assert [t.shape for t in z] == [(7, 2, 6), (7, 2, 4), (7, 2, 3)]
    assert log_q.shape == (7, 2)
    assert [t.shape for t in model.prior_sample((3,))] == [(3, 6), (3, 4), (3, 3)]


def test_log_prior_is_the_sum_over_the_chain() -> None:
    model = burda_like()
    z = model.prior_sample((5,))
    expected = (model.top_prior().log_prob(z[2]) + model.transitions[1](z[2]).log_prob(z[1])
                + model.transitions[0](z[1]).log_prob(z[0]))
    torch.testing.assert_close(model.log_prior(z), expected)


def test_iwae_with_one_sample_is_the_elbo_and_bounds_increase_with_k() -> None:
    model = burda_like()
    x = torch.bernoulli(torch.rand(4, 1, 5, 5))
    torch.manual_seed(1)
    a = iwae_bound(model, x, 1).bound
    torch.manual_seed(1)
    b = elbo(model, x).bound
    torch.testing.assert_close(a, b)
    with torch.no_grad():
        xs = x.repeat(500, 1, 1, 1)
        e, i10 = elbo(model, xs).bound.mean(), iwae_bound(model, xs, 10).bound.mean()
    assert i10 > e
    assert importance_sampled_log_marginal(model, x, 2000).log_px.mean() > i10 - 0.5


def test_unsupported_combinations_name_the_field() -> None:
    with pytest.raises(ValueError, match="model.upper_latents"):
        ModelConfig(upper_latents=(5,), architecture="conv")


@pytest.mark.parametrize("inference", ["bottom-up", "top-down"])
def test_a_vamp_prior_on_the_top_layer_is_the_top_guides_mixture(inference: str) -> None:
    torch.manual_seed(0)
    config = ModelConfig(latent_dim=6, hidden=(20,), upper_latents=(3,), upper_hidden=(10,),
                         prior="vamp", prior_components=5, inference=inference)
    model = build_model(config, (1, 5, 5))
    u = model.prior_module.pseudo_inputs
    z_top = torch.randn(8, 3)
    # p(z_2) = (1/K) Σ_k q(z_2 | u_k) with the model's own top guide (bottom-up: fed the mean of
    # q(z_1 | u); top-down: the ladder's exact q(z_2 | u))
    by_hand = torch.logsumexp(model.top_guide(u).log_prob(z_top.unsqueeze(1)), 1) - math.log(5)
    torch.testing.assert_close(model.top_prior().log_prob(z_top), by_hand)
    if inference == "bottom-up":
        expected = model.encoders[1](model.encoders[0](u).mean)
        torch.testing.assert_close(model.top_guide(u).mean, expected.mean)
    # the bound trains the pseudo-inputs and the guide through the prior
    x = torch.bernoulli(torch.rand(4, 1, 5, 5))
    elbo(model, x).loss.backward()
    assert model.prior_module.raw_inputs.grad is not None
    assert [t.shape for t in model.prior_sample((2,))] == [(2, 6), (2, 3)]
