"""`--model deep` from the command line: train, resume, evaluate, sample, report and explore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vaelab
from vaelab.cli.main import main
from vaelab.models.deep import DeepVAE

TINY_DEEP = ["--model", "deep", "--dataset", "mnist-5k", "--train-limit", "256", "--validation-size", "100",
             "--groups", "3", "--latent-dim", "2", "--hidden", "32", "--batch-size", "64",
             "--eval-samples", "10", "--eval-examples", "30", "--no-progress"]


@pytest.fixture(scope="module")
def deep_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("deep") / "run"
    assert main(["train", *TINY_DEEP, "--epochs", "1", "--run-dir", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    return run


def test_the_preset_is_recorded_and_the_model_reloads(deep_run: Path) -> None:
    config = json.loads((deep_run / "config.json").read_text())
    assert config["model"]["architecture"] == "deep" and config["model"]["groups"] == 3
    assert config["train"]["lr_schedule"] == "cosine" and config["train"]["grad_skip"] > 0
    records = [json.loads(line) for line in (deep_run / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and {"active_z1", "active_z3", "train_kl_z2"} <= set(records[-1])
    assert isinstance(vaelab.load(deep_run), DeepVAE)


def test_evaluate_sample_and_report(deep_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(deep_run), "-k", "30", "--examples", "20", "--ais-examples", "2",
                 "--ais-chains", "2", "--ais-steps", "3", "--gaps", "4", "--gap-steps", "3"]) == 0
    assert "log p(x) (IS, k=30)" in capsys.readouterr().out
    assert main(["sample", str(deep_run), "--num", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["report", str(deep_run), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    for part in ("Latent groups", "active units", "samples at several temperatures",
                 "reconstructions from each depth"):
        assert part in html


def test_the_explorer_slides_the_top_group(deep_run: Path) -> None:
    pytest.importorskip("flask")
    from vaelab.cli.explore_commands import make_app

    client = make_app(deep_run).test_client()
    assert client.get("/api/describe").get_json()["sliders"] == ["z1", "z2"]  # the top group's 2
    still = client.post("/api/decode", json={"values": [0, 0]}).get_json()["image"]
    moved = client.post("/api/decode", json={"values": [3, -3]}).get_json()["image"]
    assert moved != still


def test_bad_deep_settings_are_one_line(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *TINY_DEEP, "--groups", "0", "--epochs", "1"]) == 2
    assert "groups" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist-5k", "--groups", "3", "--epochs", "1", "--no-progress"]) == 2
    assert "architecture = 'deep'" in capsys.readouterr().err


def test_an_image_the_conv_preset_cannot_halve_is_one_line(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *TINY_DEEP, "--architecture", "deep-conv", "--conv-channels", "8,8,8",
                 "--epochs", "1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "does not divide into 3 halvings" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_an_8_bit_likelihood_gets_guards_scaled_to_its_gradients(tmp_path: Path) -> None:
    from vaelab.kinds.vae import base_config

    binary = base_config("deep", "bernoulli").train
    grey = base_config("deep", "logistic-mixture:10").train
    assert (binary.grad_clip, binary.grad_skip) == (200.0, 2000.0)
    assert grey.grad_skip > 10 * binary.grad_skip and grey.grad_clip > 10 * binary.grad_clip
    assert grey.learning_rate == binary.learning_rate / 2
    assert base_config("vae", "logistic8").train.grad_skip == 0  # other presets have no guards
    # from the command line: the likelihood flag picks them, an explicit guard flag still wins
    run = tmp_path / "grey"
    assert main(["train", *TINY_DEEP, "--likelihood", "logistic8", "--grad-clip", "7", "--epochs", "1",
                 "--no-eval", "--run-dir", str(run)]) == 0
    train = json.loads((run / "config.json").read_text())["train"]
    assert (train["grad_clip"], train["grad_skip"]) == (7.0, 35000.0)


def test_a_run_continues_with_a_lower_learning_rate(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY_DEEP, "--lr-schedule", "constant", "--epochs", "1", "--no-eval",
                 "--run-dir", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2", "--lr", "1e-4", "--no-eval",
                 "--no-progress"]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["learning_rate"] for r in records] == [2e-3, 1e-4]  # the preset's, then the new one
    assert json.loads((run / "config.json").read_text())["train"]["learning_rate"] == 1e-4
