"""`--likelihood logistic-mixture:K` from the command line: grey 8-bit digits train with the deep
and the convolutional models, evaluate in bits/dim, sample; a bad K is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vaelab.cli.main import main

TINY = ["--dataset", "mnist-5k", "--train-limit", "256", "--validation-size", "100", "--latent-dim", "2",
        "--batch-size", "64", "--eval-samples", "10", "--eval-examples", "30", "--epochs", "1",
        "--no-progress", "--likelihood", "logistic-mixture:3"]


@pytest.mark.parametrize("model", [["--model", "deep", "--groups", "2", "--hidden", "32"],
                                   ["--architecture", "conv", "--hidden", "16"]],
                         ids=["deep", "conv"])
def test_a_tiny_run_trains_and_reports_bits_per_dim(model: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, *model, "--run-dir", str(run)]) == 0
    assert "bits/dim" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["likelihood"] == "logistic-mixture:3"
    bits = json.loads((run / "metrics.json").read_text())["test"]["bits_per_dim_is"]
    assert 0 < bits < 16  # an untrained-ish model: worse than uniform (8) but a proper density
    assert main(["sample", str(run), "--num", "4", "--out", str(tmp_path / "s.png")]) == 0


def test_a_bad_number_of_components_is_one_line(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *TINY[:-1], "logistic-mixture:0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("model.likelihood" in line and "K must be an integer >= 1" in line for line in err)


def test_a_folder_of_colour_images_trains_the_deep_model_in_bits_per_dim(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Issue 26: user folders of colour images train the deep model with the 8-bit likelihood."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(60):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        pixels[..., 0] = 40 * (i % 5)  # one channel that carries a pattern
        Image.fromarray(pixels, mode="RGB").save(folder / f"{i:02d}.png")
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(folder), "--validation-size", "10", "--model", "deep",
                 "--groups", "2", "--hidden", "16", "--latent-dim", "2", "--batch-size", "16",
                 "--epochs", "1", "--eval-samples", "5", "--eval-examples", "10", "--no-progress",
                 "--likelihood", "logistic-mixture:2", "--run-dir", str(run)]) == 0
    assert "bits/dim" in capsys.readouterr().out
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert 0 < test["bits_per_dim_is"] < 16
    assert main(["sample", str(run), "--num", "4", "--out", str(tmp_path / "s.png")]) == 0
    drawn = np.asarray(Image.open(tmp_path / "s.png").convert("RGB")).astype(int)
    assert np.abs(drawn[..., 0] - drawn[..., 1]).max() > 0  # colour samples, not grey
