"""Bidirectional Monte Carlo brackets the closed-form log p(x) of a linear-Gaussian model."""

from __future__ import annotations

import pytest
import torch

from tests.objectives.test_estimators import ppca
from vaelab.models import ModelConfig, build_model
from vaelab.objectives.ais import AISSchedule
from vaelab.objectives.bdmc import bidirectional_monte_carlo, reverse_annealed_importance_sampling, simulate


def test_forward_and_reverse_ais_bracket_the_exact_log_marginal_and_tighten() -> None:
    """Means over 128 simulated examples, each bound within 3 standard errors of its side."""
    model, _ = ppca(10, 3, 0.5, 1.4)
    x, z = simulate(model, 128)
    exact = model.exact_log_marginal(x).detach()
    widths = []
    for steps in (20, 200):
        bracket = bidirectional_monte_carlo(model, x, z, schedule=AISSchedule(steps=steps, leapfrog_steps=5))
        below, above = exact - bracket.lower, bracket.upper - exact
        assert below.mean() > -3 * below.std() / 128**0.5, steps
        assert above.mean() > -3 * above.std() / 128**0.5, steps
        widths.append(float(bracket.width.mean()))
    assert widths[1] < widths[0] / 4 and widths[1] < 1.0, widths


def test_reverse_ais_from_the_exact_posterior_is_an_upper_bound_even_with_few_steps() -> None:
    model, _ = ppca(6, 2, 0.5, 1.4)
    x, z = simulate(model, 256)
    upper = reverse_annealed_importance_sampling(model, x, z, chains=2, schedule=AISSchedule(steps=3))
    assert (upper.log_px - model.exact_log_marginal(x)).mean() > 0.5  # loose, on the right side


def test_simulation_covers_latent_chains_and_refuses_bad_input() -> None:
    model = build_model(ModelConfig(latent_dim=3, hidden=(8,), upper_latents=(2,), upper_hidden=(8,)),
                        (1, 4, 4))
    x, z = simulate(model, 5)
    assert x.shape == (5, 1, 4, 4) and isinstance(z, tuple) and set(x.unique().tolist()) <= {0.0, 1.0}
    bracket = bidirectional_monte_carlo(model, x, z, chains=2, schedule=AISSchedule(steps=4))
    assert bracket.lower.shape == bracket.upper.shape == (5,) and bracket.steps == 4
    with pytest.raises(ValueError, match="at least one simulated example, got 0"):
        simulate(model, 0)
    with pytest.raises(ValueError, match="chains >= 1"):
        reverse_annealed_importance_sampling(model, x, z, chains=0)
    assert torch.isfinite(bracket.width).all()
