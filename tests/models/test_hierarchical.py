"""The stacked VAE: its densities factorise as the graph says, and the objectives apply."""

from __future__ import annotations

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
    expected = (model.prior_module().log_prob(z[2]) + model.transitions[1](z[2]).log_prob(z[1])
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


@pytest.mark.parametrize(("field", "value"), [("architecture", "conv"), ("prior", "vamp")])
def test_unsupported_combinations_name_the_field(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"model.{'upper_latents' if field == 'architecture' else field}"):
        ModelConfig(upper_latents=(5,), **{field: value})
