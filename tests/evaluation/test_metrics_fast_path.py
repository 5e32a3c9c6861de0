"""held_out_metrics' Bernoulli-logit shortcut gives the generic importance-sampling values."""

from __future__ import annotations

import torch

from vaelab.evaluation.metrics import _bernoulli_log_marginal, _plain_bernoulli, held_out_metrics
from vaelab.models import ModelConfig, build_vae
from vaelab.objectives.marginal import importance_sampled_log_marginal


def test_bernoulli_shortcut_matches_the_generic_estimator() -> None:
    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=3, hidden=(8,), likelihood="bernoulli"), (1, 4, 4)).eval()
    x = (torch.rand(5, 1, 4, 4) < 0.5).float()
    assert _plain_bernoulli(model)
    torch.manual_seed(1)
    generic = importance_sampled_log_marginal(model, x, 300, 64)
    torch.manual_seed(1)
    fast = _bernoulli_log_marginal(model, x, 300, 64)
    torch.testing.assert_close(fast.log_px, generic.log_px, rtol=0, atol=1e-4)
    torch.testing.assert_close(fast.ess, generic.ess, rtol=1e-4, atol=1e-4)
    lines: list[str] = []
    result = held_out_metrics(model, x, k=50, batch_size=2, log=lines.append, bernoulli_shortcut=True)
    assert result["examples"] == 5 and lines and "5/5 examples" in lines[-1]


def test_other_likelihoods_take_the_generic_path() -> None:
    model = build_vae(ModelConfig(latent_dim=3, hidden=(8,), likelihood="gaussian"), (1, 4, 4))
    assert not _plain_bernoulli(model)
