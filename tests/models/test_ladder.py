"""Top-down inference: precision-weighted guides and the shared top-down path."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Independent, Normal

from vaelab.models import LadderVAE, ModelConfig, build_model
from vaelab.models.ladder import precision_weighted
from vaelab.objectives import elbo, importance_sampled_log_marginal, iwae_bound


def ladder() -> LadderVAE:
    model = build_model(ModelConfig(latent_dim=6, hidden=(24, 24), upper_latents=(4, 2),
                                    upper_hidden=(12, 12), inference="top-down"), (1, 5, 5))
    assert isinstance(model, LadderVAE)
    return model


def test_precision_weighting_is_the_normalised_product_of_gaussians() -> None:
    a = Independent(Normal(torch.tensor([1.0]), torch.tensor([2.0])), 1)
    b = Independent(Normal(torch.tensor([-1.0]), torch.tensor([1.0])), 1)
    combined = precision_weighted(a, b)
    grid = torch.linspace(-10, 10, 20001).unsqueeze(-1)
    log_product = a.log_prob(grid) + b.log_prob(grid)
    density = torch.softmax(log_product, 0)
    mean = (density * grid[:, 0]).sum()
    var = (density * (grid[:, 0] - mean) ** 2).sum()
    torch.testing.assert_close(combined.mean, mean.reshape(1), atol=1e-4, rtol=0)
    torch.testing.assert_close(combined.variance, var.reshape(1), atol=1e-4, rtol=0)


def test_guide_runs_top_down_and_the_bounds_hold() -> None:
    model = ladder()
    x = torch.bernoulli(torch.rand(4, 1, 5, 5))
    z, log_q = model.guide_sample(x, (3,))
    assert [t.shape for t in z] == [(3, 4, 6), (3, 4, 4), (3, 4, 2)] and log_q.shape == (3, 4)
    torch.manual_seed(1)
    a = iwae_bound(model, x, 1).bound
    torch.manual_seed(1)
    torch.testing.assert_close(a, elbo(model, x).bound)
    with torch.no_grad():
        bound = elbo(model, x.repeat(300, 1, 1, 1)).bound.reshape(300, 4).mean(0)
    assert (importance_sampled_log_marginal(model, x, 3000).log_px > bound - 0.05).all()


def test_dreg_is_refused_for_a_guide_that_shares_generative_parameters() -> None:
    with pytest.raises(ValueError, match="top-down"):
        iwae_bound(ladder(), torch.zeros(2, 1, 5, 5), 4, gradient="dreg")


def test_a_few_steps_of_training_raise_the_bound() -> None:
    torch.manual_seed(0)
    model = ladder()
    x = torch.bernoulli(torch.full((64, 1, 5, 5), 0.2))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    before = elbo(model, x).bound.mean().item()
    for _ in range(60):
        optimizer.zero_grad()
        elbo(model, x).loss.backward()
        optimizer.step()
    assert elbo(model, x).bound.mean().item() > before + 3.0


def test_a_wide_message_keeps_its_pull_on_q_only_with_the_residual_combiner() -> None:
    """Why the precision-weighted ladder collapses: once a layer's message widens (σ̂ = 10 against
    a prior σ_p = 1), its mean moves q's by σ̂⁻² / (σ̂⁻² + σ_p⁻²) ≈ 1 %, so the data's gradient
    reaching the message all but vanishes and the layer stays at its prior; the residual normal
    passes it on whole."""
    from vaelab.models.ladder import residual_normal

    prior = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    for combine, pull in ((precision_weighted, 1 / 101), (residual_normal, 1.0)):
        loc = torch.zeros(3, requires_grad=True)
        message = Independent(Normal(loc, torch.full((3,), 10.0)), 1)
        combine(message, prior).mean.sum().backward()
        torch.testing.assert_close(loc.grad, torch.full((3,), pull))


@pytest.mark.parametrize("inference, combine", [("top-down", "precision"), ("residual", "residual")])
def test_the_top_down_guides_share_one_model_and_differ_in_how_they_combine(inference: str,
                                                                             combine: str) -> None:
    model = build_model(ModelConfig(latent_dim=6, hidden=(24, 24), upper_latents=(4,),
                                    upper_hidden=(12, 12), inference=inference), (1, 5, 5))
    assert isinstance(model, LadderVAE) and model.combine == combine
    x = torch.bernoulli(torch.rand(4, 1, 5, 5))
    z, log_q = model.guide_sample_groups(x, (2,))
    assert log_q.shape == (2, 4, 2) and model.log_prior_groups(z).shape == (2, 4, 2)
    with pytest.raises(ValueError, match="combine"):
        LadderVAE(model.prior_module, model.transitions, model.decoder, model.deterministic,
                  model.messages, combine="average")
