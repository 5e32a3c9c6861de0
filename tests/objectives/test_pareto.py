"""Pareto k̂ of importance weights: against ArviZ's PSIS, against a known tail, and on guides
whose quality is known (a linear-Gaussian model's exact posterior, and a far too narrow guide)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.objectives.test_estimators import ppca
from vaelab.objectives import importance_sampled_log_marginal
from vaelab.objectives.pareto import (
    TRUST_THRESHOLD,
    TopLogWeights,
    fewest_samples,
    pareto_k,
    tail_size,
)


def pareto_log_weights(shape: float, k: int, batch: int, seed: int) -> torch.Tensor:
    """log w for w from a generalized Pareto(shape, scale 1) by inversion: w = (U^−ξ − 1)/ξ."""
    u = torch.rand(k, batch, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.log((u ** (-shape) - 1.0) / shape)


@pytest.mark.parametrize("k", [21, 100, 1000, 5000])
@pytest.mark.parametrize("shape", [0.2, 0.6, 0.9, 1.3])
def test_k_hat_equals_arviz_psis(k: int, shape: float) -> None:
    """The reference implementation: arviz.psislw's k̂ (ArviZ >= 0.17, relative efficiency 1)."""
    arviz = pytest.importorskip("arviz", reason="the reference check needs arviz (pip install arviz)")
    log_w = pareto_log_weights(shape, k, 6, seed=k)
    _, reference = arviz.psislw(log_w.T.numpy().copy())
    torch.testing.assert_close(pareto_k(log_w), torch.from_numpy(reference), rtol=0, atol=1e-10)


def test_k_hat_recovers_a_known_tail_shape() -> None:
    """Without ArviZ: the tail of 20,000 generalized-Pareto weights has the shape we drew them
    with (seeded; each fit is within about 0.1 for its 425 tail weights, the mean of 8 closer)."""
    for shape in (0.3, 0.7, 1.0):
        k_hat = pareto_k(pareto_log_weights(shape, 20_000, 8, seed=1))
        assert (k_hat.mean() - shape).abs() < 0.08, (shape, k_hat)


def test_streaming_top_weights_give_the_one_shot_k_hat() -> None:
    log_w = pareto_log_weights(0.8, 1000, 5, seed=3)
    top = TopLogWeights(1000)
    for chunk in log_w.split(37):
        top.add(chunk)
    assert top.top is not None and top.top.shape == (tail_size(1000) + 1, 5)  # bounded memory
    torch.testing.assert_close(top.pareto_k(), pareto_k(log_w), rtol=0, atol=0)


def test_tail_size_follows_psis_and_too_few_samples_give_nan() -> None:
    assert [tail_size(k) for k in (1, 20, 21, 100, 1000, 5000)] == [1, 4, 5, 20, 95, 213]
    assert fewest_samples() == 21
    assert torch.isnan(pareto_k(torch.randn(20, 3))).all()
    assert torch.isfinite(pareto_k(torch.randn(21, 3))).all()
    with pytest.raises(ValueError, match="k must be >= 1"):
        tail_size(0)


def test_equal_weights_have_no_tail() -> None:
    assert (pareto_k(torch.zeros(100, 2)) == -math.inf).all()


def test_k_hat_is_small_for_a_near_perfect_guide_and_large_for_a_bad_one() -> None:
    model, x = ppca(8, 3, 0.5, 1.0, shift=0.0)
    x = x[:32]
    good = importance_sampled_log_marginal(model, x, k=2000).pareto_k
    assert good is not None and good.shape == (32,)
    model.set_guide_to_posterior(scale_factor=1.2)  # a little wider than the posterior: bounded w
    wider = importance_sampled_log_marginal(model, x, k=2000).pareto_k
    model.set_guide_to_posterior(scale_factor=0.3)  # far too narrow: heavy-tailed weights
    narrow = importance_sampled_log_marginal(model, x, k=2000).pareto_k
    assert good.median() < 0.5 and wider.max() < 0.5
    assert narrow.median() > TRUST_THRESHOLD and (narrow > TRUST_THRESHOLD).float().mean() > 0.75
