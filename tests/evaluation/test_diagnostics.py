"""Latent diagnostics: active units by Burda's criterion, KL per dimension."""

from __future__ import annotations

import torch

from vaelab.evaluation.diagnostics import latent_diagnostics
from vaelab.models import LinearGaussianModel, ModelConfig, build_model


def test_dead_units_are_counted_as_inactive() -> None:
    torch.manual_seed(0)
    model = LinearGaussianModel(data_dim=8, latent_dim=5)
    with torch.no_grad():  # the guide's mean ignores x in dimensions 1 and 3
        model.guide_weight.copy_(torch.randn(5, 8))
        model.guide_weight[1].zero_()
        model.guide_weight[3].mul_(0.01)
    result = latent_diagnostics(model, torch.randn(500, 8))
    assert result["active_units"] == [3] and result["latent_dims"] == [5]
    kl = result["kl_per_dimension"]
    assert len(kl) == 5 and kl[1] < kl[0] and min(kl) >= 0


def test_hierarchical_models_report_each_layer() -> None:
    model = build_model(ModelConfig(latent_dim=6, hidden=(16,), upper_latents=(3,),
                                    upper_hidden=(8,)), (1, 4, 4))
    result = latent_diagnostics(model, torch.rand(50, 1, 4, 4))
    assert result["latent_dims"] == [6, 3] and "kl_per_dimension" not in result
    assert all(0 <= a <= d for a, d in zip(result["active_units"], result["latent_dims"], strict=True))
