"""A run folder works on its own (copied to a colleague, or after the data moved): sampling,
reconstructing and classifying given images and `vaelab.load` need only the folder; commands that
score the test split say which data they need and where the run found it. And the messages a
new user meets along the way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import vaelab
from vaelab.cli.main import main
from vaelab.kinds import kind_of_run

TINY = ["--epochs", "1", "--hidden", "16", "--latent-dim", "2", "--batch-size", "32",
        "--eval-samples", "5", "--eval-examples", "8", "--no-progress", "--validation-size", "16"]


def _own_data(folder: Path, labels: bool = False) -> Path:
    rng = np.random.default_rng(0)
    images = (rng.random((120, 8, 8)) > 0.5).astype(np.uint8) * 255
    folder.mkdir(parents=True, exist_ok=True)
    if labels:
        path = folder / "digits.npz"
        np.savez(path, images=images, labels=np.arange(120) % 3)
    else:
        path = folder / "digits.npy"
        np.save(path, images)
    return path


@pytest.mark.slow
def test_a_run_without_its_data_samples_reconstructs_and_loads(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = _own_data(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(data), "--binarization", "static", *TINY, "--out", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())["data"]
    assert saved["image_shape"] == [1, 8, 8] and saved["found_in"] == str(data.resolve())
    probe = tmp_path / "probe.npy"
    np.save(probe, np.load(data)[:4])
    shutil.rmtree(tmp_path / "data")  # the data are gone; the run folder must do alone
    capsys.readouterr()

    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["reconstruct", str(run), "--images", str(probe), "-n", "4",
                 "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "s.png").is_file() and (tmp_path / "r.png").is_file()
    assert tuple(vaelab.load(run).data_shape) == (1, 8, 8)

    assert main(["evaluate", str(run), "-k", "2"]) == 2  # scoring the test split needs the data
    err = capsys.readouterr().err
    assert err.startswith("vaelab: error:") and f"trained on files in {data.resolve()}" in err
    assert f"run `vaelab evaluate {run} -k 2 --data-dir FOLDER`" in err  # the command to run

    moved = tmp_path / "moved"  # the data, found by name in the folder given or in $VAELAB_DATA
    _own_data(moved)
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4", "--data-dir", str(moved)]) == 0
    assert main(["reconstruct", str(run), "-n", "4", "--data-dir", str(moved),
                 "--out", str(tmp_path / "t.png")]) == 0
    assert main(["report", str(run), "--examples", "4", "--data-dir", str(moved), "--no-progress",
                 "--out", str(tmp_path / "r.html")]) == 0
    monkeypatch.setenv("VAELAB_DATA", str(moved))
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4"]) == 0
    _, _, splits = kind_of_run(run).module().load(run, data_dir=str(moved))
    assert splits.test.images.shape[1:] == (1, 8, 8)  # from Python too


def test_a_semisupervised_run_classifies_without_its_data(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    data = _own_data(tmp_path / "data", labels=True)
    run = tmp_path / "m2"
    assert main(["train", "--model", "m2", "--dataset", str(data), "--binarization", "static",
                 "--labels", "9", "--classifier-hidden", "8", "--labelled-batch-size", "9", *TINY,
                 "--out", str(run)]) == 0
    probe = tmp_path / "probe.npy"
    np.save(probe, np.load(data)["images"][:3])
    shutil.rmtree(tmp_path / "data")
    capsys.readouterr()
    assert main(["classify", str(run), str(probe)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert main(["sample", str(run), "--class", "1", "-n", "2", "--out", str(tmp_path / "c.png")]) == 0
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4"]) == 2
    assert "run `vaelab evaluate" in capsys.readouterr().err
    _own_data(tmp_path / "moved", labels=True)
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4",
                 "--data-dir", str(tmp_path / "moved")]) == 0


def test_the_messages_a_new_user_meets(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--train-limit", "64", "--no-eval", "--out", str(run)]) == 0
    assert "no --dataset given: training on mnist-5k" in capsys.readouterr().out
    assert main(["train", "--resume", str(run)]) == 0  # already finished: says so, does nothing
    out = capsys.readouterr().out
    assert "already trained 1 of 1 epochs: nothing to do" in out
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert main(["evaluate", str(run), "-k", "3", "--examples", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("evaluating") or "test ELBO" in out.splitlines()[0] or "test ELBO" in out
    assert not out.lstrip().startswith("{")  # a summary for people, not raw JSON
    assert main(["evaluate", str(run), "-k", "3", "--examples", "8", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["test"]["log_px_is"]["n"] == 8  # stdout is the JSON alone


def test_a_run_trained_with_vaelab_data_names_that_folder_later(shared_data: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("VAELAB_DATA", str(shared_data))
    run = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--train-limit", "64", *TINY, "--no-eval",
                 "--out", str(run)]) == 0
    found_in = json.loads((run / "config.json").read_text())["data"]["found_in"]
    assert Path(found_in) == (shared_data / "mnist").resolve()
    monkeypatch.delenv("VAELAB_DATA")
    # still where training found them: read from there
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4", "--no-progress"]) == 0


def test_a_run_whose_built_in_data_moved_is_pointed_at_them_with_data_dir(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "project" / "data").mkdir(parents=True)
    shutil.copytree(shared_data / "mnist", tmp_path / "project" / "data" / "mnist")
    monkeypatch.chdir(tmp_path / "project")  # the README's example: a relative --data-dir
    run = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--data-dir", "data", "--train-limit", "64", *TINY,
                 "--no-eval", "--out", str(run)]) == 0
    monkeypatch.chdir(tmp_path)  # used from another folder: found where training found them
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4"]) == 0
    (tmp_path / "project").rename(tmp_path / "elsewhere")  # the data moved
    capsys.readouterr()
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4"]) == 2
    err = capsys.readouterr().err
    found_in = json.loads((run / "config.json").read_text())["data"]["found_in"]
    assert f"trained on files in {found_in}" in err
    assert f"run `vaelab evaluate {run} -k 2 --examples 4 --data-dir FOLDER`" in err
    assert main(["evaluate", str(run), "-k", "2", "--examples", "4", "--data-dir", "elsewhere/data"]) == 0
    assert main(["reconstruct", str(run), "-n", "2", "--data-dir", "elsewhere/data/mnist",
                 "--out", str(tmp_path / "r.png")]) == 0


def test_flags_of_another_kind_and_sequence_data_are_refused(capsys: pytest.CaptureFixture) -> None:
    cases = [(["--pendulum", "damping=0.2"], "--pendulum: not used by --model vae|deep (for --model ssm)"),
             (["--model", "m2", "--window", "5"], "--window: not used by --model m2|m1m2"),
             (["--labels", "10"], "--labels: not used by --model vae|deep (for --model m2|m1m2|adgm|sdgm)"),
             (["--dataset", "pendulum"], "train a sequence model on it with `vaelab train --model ssm")]
    for argv, message in cases:
        assert main(["train", *argv]) == 2
        assert message in capsys.readouterr().err


def test_a_finished_run_resumed_is_not_evaluated_again(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--train-limit", "64", "--out", str(run)]) == 0
    kept = sorted((run / "evaluations").iterdir())
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "no new epochs: the evaluation" in capsys.readouterr().out
    assert sorted((run / "evaluations").iterdir()) == kept


def test_a_sequence_run_evaluates_with_its_own_settings(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "ssm.json"
    config.write_text(json.dumps({
        "model": {"encoder_hidden": [16, 8], "rnn_hidden": 8, "combiner_hidden": 8,
                  "decoder_hidden": [16]},
        "data": {"data_dir": str(tmp_path / "data"),
                 "pendulum": {"train_sequences": 8, "train_length": 10, "valid_sequences": 2,
                              "valid_length": 10, "test_sequences": 5, "test_length": 12, "image_size": 16}},
        "train": {"batch_size": 4, "eval_samples": 3, "eval_sequences": 2}}))
    run = tmp_path / "ssm"
    assert main(["train", "--model", "ssm", "--config", str(config), "--epochs", "1", "--no-eval",
                 "--no-progress", "--out", str(run)]) == 0
    assert main(["evaluate", str(run)]) == 0  # k and sequences from the run, not the image defaults
    assert "SMC_3" in capsys.readouterr().out
    assert list((run / "evaluations").glob("*-k3-n2-*.json"))
