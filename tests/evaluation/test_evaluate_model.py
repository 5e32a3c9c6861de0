"""`vaelab.evaluate`: held-out evidence for any model from Python, checked against exact answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import vaelab
from vaelab.models import LinearGaussianModel, ModelConfig, build_vae


def test_linear_gaussian_evidence_matches_the_closed_form() -> None:
    torch.manual_seed(0)
    model = LinearGaussianModel(data_dim=5, latent_dim=2)
    model.set_guide_to_posterior(scale_factor=1.3)  # a good but imperfect guide
    x = torch.randn(200, 5)
    exact = model.exact_log_marginal(x).mean().item()
    result = vaelab.evaluate(model, x, k=500)
    assert result["examples"] == 200 and result["is_samples"] == 500
    assert result["log_px_is"]["mean"] == pytest.approx(exact, abs=0.05)
    assert result["elbo"]["mean"] <= result["log_px_is"]["mean"] + 1e-4


def test_uint8_images_are_binarized_with_a_fixed_seed_and_limited_by_examples() -> None:
    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=2, hidden=(8,)), (1, 4, 4))
    pixels = (torch.rand(30, 1, 4, 4) * 255).to(torch.uint8)
    first = vaelab.evaluate(model, pixels, k=10, examples=12, seed=3)
    again = vaelab.evaluate(model, pixels, k=10, examples=12, seed=3)
    assert first["examples"] == 12 and first["log_px_is"] == again["log_px_is"]
    assert math.isfinite(first["ess_mean"])


def test_ais_rides_along_and_bad_k_is_refused() -> None:
    torch.manual_seed(0)
    model = LinearGaussianModel(data_dim=3, latent_dim=1)
    x = torch.randn(8, 3)
    result = vaelab.evaluate(model, x, k=50, ais_examples=4, ais_chains=4, ais_steps=20)
    assert result["ais"]["log_px_ais"]["n"] == 4
    with pytest.raises(ValueError, match="k must be >= 1"):
        vaelab.evaluate(model, x, k=0)
    with pytest.raises(TypeError, match="cannot evaluate on str"):
        vaelab.evaluate(model, "images.npy")


def test_with_a_run_dir_every_evaluation_is_kept_and_none_overwritten(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = LinearGaussianModel(data_dim=3, latent_dim=1)
    x = torch.randn(40, 3)
    vaelab.fit(model, x, epochs=1, batch_size=20, run_dir=tmp_path, progress=False, log=lambda _: None)
    weak = vaelab.evaluate(model, x, k=5, run_dir=tmp_path)
    strong = vaelab.evaluate(model, x, k=50, run_dir=tmp_path)
    assert "evaluation" not in vaelab.evaluate(model, x, k=5)  # without a run_dir nothing is written
    saved = sorted((tmp_path / "evaluations").glob("*.json"))
    assert [p.stem for p in saved] == sorted([weak["evaluation"], strong["evaluation"]])
    kept = json.loads((tmp_path / "evaluations" / f"{weak['evaluation']}.json").read_text())
    assert kept["results"]["test"]["log_px_is"] == weak["log_px_is"] and kept["settings"]["k"] == 5
    merged = json.loads((tmp_path / "metrics.json").read_text())
    assert merged["evaluations"]["strongest"]["id"] == strong["evaluation"]
    page = vaelab.report(model, tmp_path, x, k=5, progress=False).read_text()
    assert len(list((tmp_path / "evaluations").glob("*.json"))) == 3  # the report's own, kept too
    assert "(not saved)" not in page
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        vaelab.evaluate(model, x, k=5, run_dir=tmp_path / "missing")


def test_running_figures_sit_in_the_bar_when_one_is_shown_and_are_lines_otherwise(
        capsys: pytest.CaptureFixture) -> None:
    """A line printed under a bar that is being redrawn lands on top of it."""
    from vaelab.evaluation.metrics import held_out_metrics

    torch.manual_seed(0)
    model = LinearGaussianModel(data_dim=3, latent_dim=1)
    x = torch.randn(40, 3)
    lines: list[str] = []
    held_out_metrics(model, x, k=5, batch_size=10, progress=True, log=lines.append)
    assert lines == [] and "running -log p(x)" in capsys.readouterr().err
    held_out_metrics(model, x, k=5, batch_size=10, progress=False, log=lines.append)
    assert len(lines) == 4 and lines[-1].startswith("  40/40 examples: running -log p(x)")
