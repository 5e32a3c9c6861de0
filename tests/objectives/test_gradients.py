"""Gradient estimators: STL and DReG estimate the same gradient with less noise, and vanish
for the guide at the exact posterior."""

from __future__ import annotations

import pytest
import torch

from vaelab.models import LinearGaussianModel
from vaelab.objectives import elbo, iwae_bound

GUIDE = ("guide_weight", "guide_bias", "guide_log_scale")


def exact_ppca() -> tuple[LinearGaussianModel, torch.Tensor]:
    torch.manual_seed(0)
    model = LinearGaussianModel(6, 2, noise_scale=0.4)
    with torch.no_grad():  # orthogonal columns: the diagonal guide can equal the posterior
        q, _ = torch.linalg.qr(torch.randn(6, 2))
        model.weight.copy_(q * torch.tensor([2.0, 0.7]))
    model.set_guide_to_posterior()
    return model, torch.randn(16, 6)


def guide_gradient(model: LinearGaussianModel, loss: torch.Tensor) -> torch.Tensor:
    params = [getattr(model, name) for name in GUIDE]
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.flatten() for g in grads])


@pytest.mark.parametrize("objective", ["elbo-stl", "iwae-dreg", "iwae-stl"])
def test_stopped_gradients_vanish_for_the_guide_at_the_exact_posterior(objective: str) -> None:
    model, x = exact_ppca()
    if objective == "elbo-stl":
        loss = elbo(model, x, samples=4, stop_guide_gradient=True).loss
    else:
        loss = iwae_bound(model, x, 8, gradient=objective.split("-")[1]).loss
    assert guide_gradient(model, loss).abs().max() < 1e-4
    standard = guide_gradient(model, iwae_bound(model, x, 8).loss)
    assert standard.abs().max() > 1e-2  # the plain estimator is noisy even there


def test_dreg_is_unbiased_and_less_noisy_than_the_standard_iwae_gradient() -> None:
    torch.manual_seed(1)
    model = LinearGaussianModel(8, 3, noise_scale=0.5)
    model.set_guide_to_posterior(scale_factor=1.3)
    x = torch.randn(4, 8)
    draws = {"standard": [], "dreg": []}
    for _ in range(400):
        for gradient in draws:
            draws[gradient].append(guide_gradient(model, iwae_bound(model, x, 20, gradient).loss))
    standard, dreg = (torch.stack(v) for v in (draws["standard"], draws["dreg"]))
    stderr = (standard.var(0) / len(standard) + dreg.var(0) / len(dreg)).sqrt()
    assert ((standard.mean(0) - dreg.mean(0)).abs() < 4 * stderr + 1e-4).all()
    assert dreg.var(0).sum() < 0.5 * standard.var(0).sum()


def test_decoder_gradient_of_dreg_matches_standard_in_expectation() -> None:
    torch.manual_seed(2)
    model = LinearGaussianModel(5, 2, noise_scale=0.6)
    model.set_guide_to_posterior(scale_factor=1.2)
    x = torch.randn(3, 5)
    means = {}
    for gradient in ("standard", "dreg"):
        grads = [torch.autograd.grad(iwae_bound(model, x, 10, gradient).loss, model.weight)[0]
                 for _ in range(300)]
        means[gradient] = torch.stack(grads)
    diff = (means["standard"].mean(0) - means["dreg"].mean(0)).abs()
    stderr = (means["standard"].var(0) / 300 + means["dreg"].var(0) / 300).sqrt()
    assert (diff < 4 * stderr + 1e-4).all()
