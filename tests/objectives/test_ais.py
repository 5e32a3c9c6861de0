"""Annealed importance sampling agrees with the closed form and with importance sampling."""

from __future__ import annotations

import pytest
import torch

from tests.objectives.test_estimators import ppca
from vaelab.models import ModelConfig, build_model
from vaelab.objectives import importance_sampled_log_marginal
from vaelab.objectives.ais import AISSchedule, annealed_importance_sampling


def test_ais_matches_the_linear_gaussian_closed_form() -> None:
    model, x = ppca(10, 3, 0.5, 1.4)
    x = x[:16]
    torch.manual_seed(0)
    estimate = annealed_importance_sampling(model, x, chains=16,
                                            schedule=AISSchedule(steps=300, leapfrog_steps=5))
    error = estimate.log_px - model.exact_log_marginal(x).detach()
    assert error.mean().abs() < 0.15 and error.abs().max() < 0.6
    is_estimate = importance_sampled_log_marginal(model, x, k=5000).log_px
    assert (estimate.log_px - is_estimate).mean().abs() < 0.2


def test_ais_runs_on_a_hierarchical_model_and_bounds_are_sane() -> None:
    model = build_model(ModelConfig(latent_dim=4, hidden=(16,), upper_latents=(2,),
                                    upper_hidden=(8,)), (1, 4, 4))
    x = torch.bernoulli(torch.rand(3, 1, 4, 4))
    few = annealed_importance_sampling(model, x, chains=4, schedule=AISSchedule(steps=5))
    more = annealed_importance_sampling(model, x, chains=8, schedule=AISSchedule(steps=200))
    is_estimate = importance_sampled_log_marginal(model, x, k=5000).log_px
    assert few.log_px.shape == (3,) and torch.isfinite(few.log_px).all()
    assert ((more.log_px - is_estimate).abs() < 0.5).all()


def test_ais_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="steps >= 1"):
        AISSchedule(steps=0)
