"""The estimator comparison and the pictures it produces."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import torch

from vaelab.evaluation import compare_estimators, format_table
from vaelab.evaluation.plots import (
    image_grid,
    plot_estimator_comparison,
    plot_training_curves,
    save_image_grid,
)
from vaelab.models import LinearGaussianModel


def test_comparison_shows_importance_sampling_winning_in_high_dimensions() -> None:
    torch.manual_seed(0)
    model = LinearGaussianModel(100, 8, noise_scale=0.2)
    model.set_guide_to_posterior(1.1)
    x = model.likelihood(model.prior().sample((20,))).sample()
    truth = model.exact_log_marginal(x).mean().item()
    rows = compare_estimators(model, x, ks=(1, 10, 100))
    assert [r.k for r in rows] == [1, 10, 100]
    for row in rows:
        assert abs(row.is_mean - truth) < 1.0
        assert truth - row.prior_mean > 20.0
    assert rows[-1].prior_mean > rows[0].prior_mean  # prior MC creeps up with k
    table = format_table(rows)
    assert "importance sampled" in table and len(table.splitlines()) == 2 + 3 + 1


def test_image_grid_layout() -> None:
    images = torch.zeros(5, 1, 4, 6)
    images[1] = 1.0
    grid = image_grid(images, columns=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 7 + 1)
    assert grid[1:5, 8:14].min() == 1.0 and grid[1:5, 1:7].max() == 0.0
    rgb = image_grid(torch.rand(2, 3, 4, 4), columns=2, pad=0)
    assert rgb.shape == (4, 8, 3)


def test_pictures_are_written(tmp_path: Path) -> None:
    path = save_image_grid(torch.rand(4, 1, 8, 8), tmp_path / "g.png", columns=2, zoom=2)
    assert mpimg.imread(path).shape[:2] == ((2 * 10 + 2) * 2, (2 * 10 + 2) * 2)
    torch.manual_seed(0)
    model = LinearGaussianModel(5, 2)
    rows = compare_estimators(model, torch.randn(4, 5), ks=(1, 10))
    plot = plot_estimator_comparison(rows, tmp_path / "e.png")
    assert plot.stat().st_size > 10_000


def test_training_curves_gain_a_classification_panel_when_epochs_record_an_error(tmp_path: Path) -> None:
    records = [{"epoch": e, "train_bound": -100.0 + e, "valid_bound": -101.0 + e, "train_kl": 5.0,
                "train_reconstruction": -95.0 + e} for e in (1, 2, 3)]
    plain = mpimg.imread(plot_training_curves(records, tmp_path / "plain.png"))
    semi = [{**r, "valid_error": 0.5 / r["epoch"], "train_labelled_error": 0.1} for r in records]
    semi[0]["valid_error"] = None  # an epoch without a score is left out, not drawn as zero
    classified = mpimg.imread(plot_training_curves(semi, tmp_path / "semi.png"))
    assert classified.shape[0] == plain.shape[0] and classified.shape[1] == plain.shape[1] * 3 // 2
