"""`vaelab train --model m2|m1m2|adgm|sdgm`, evaluate, classify, sample --class, report; clear
errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vaelab.cli.main import main

TINY = ["--dataset", "mnist-5k", "--train-limit", "300", "--validation-size", "100",
        "--latent-dim", "4", "--hidden", "32", "--classifier-hidden", "32", "--batch-size", "50",
        "--labelled-batch-size", "20", "--eval-samples", "5", "--eval-examples", "30",
        "--no-progress"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "m2"
    assert main(["train", "--model", "m2", "--labels", "20", "--epochs", "1", "--select-by", "error",
                 *TINY, "--run-dir", str(folder)]) == 0
    return folder


def test_train_writes_labels_metrics_and_class_pictures(run: Path) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["labels"] == 20 and metrics["kind"] == "m2"
    assert metrics["classification"]["examples"] == 1000
    assert len(metrics["classification"]["confusion_matrix"]) == 10
    assert metrics["test"]["examples"] == 30 and metrics["test"]["is_samples"] == 5
    for name in ("labelled.json", "analogies.png", "class_samples.png", "config.json"):
        assert (run / name).is_file()
    assert json.loads((run / "config.json").read_text())["semisupervised"]["select_by"] == "error"


def test_resuming_with_fewer_epochs_than_trained_is_refused(run: Path, capsys: pytest.CaptureFixture) -> None:
    config = (run / "config.json").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "0", "--no-progress"]) == 2
    assert "has already trained 1 epochs; --epochs 0 is fewer" in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == config


def test_training_and_a_later_evaluate_give_the_same_figures_whatever_the_training_seed(
        tmp_path: Path) -> None:
    run = tmp_path / "m2"
    assert main(["train", "--model", "m2", "--labels", "20", "--epochs", "1", "--seed", "3", *TINY,
                 "--run-dir", str(run)]) == 0
    assert main(["evaluate", str(run), "-k", "5", "--examples", "30", "--no-progress"]) == 0
    records = sorted((json.loads(p.read_text()) for p in (run / "evaluations").glob("*.json")),
                     key=lambda e: e["time"])
    assert [e["settings"]["seed"] for e in records] == [0, 0]
    assert records[0]["results"]["test"] == records[1]["results"]["test"]


def test_evaluate_classify_sample_report_and_resume(run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(run), "-k", "3", "--examples", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classification"]["examples"] == 1000  # the JSON alone
    assert main(["evaluate", str(run), "-k", "3", "--examples", "20"]) == 0
    out = capsys.readouterr().out
    assert "test error" in out and "confusion matrix" in out
    assert "kept (drawn earlier from the same model)" in out
    metrics = json.loads((run / "metrics.json").read_text())  # training's stronger evaluation leads
    assert metrics["test"]["is_samples"] == 5 and metrics["classification"]["examples"] == 1000
    assert "auxiliary_use" not in metrics["classification"]  # M2 has no a to measure
    kept = metrics["evaluations"]
    assert [(e["k"], e["examples"]) for e in kept["all"]] == [(5, 30), (3, 20), (3, 20)]  # none lost
    assert (kept["latest"]["k"], kept["latest"]["examples"]) == (3, 20)

    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[:, 10:18, 12:16] = 255
    np.save(tmp_path / "digits.npy", images)
    from PIL import Image

    Image.fromarray(images[0]).save(tmp_path / "one.png")
    (tmp_path / "more" / "sevens").mkdir(parents=True)
    for name in ("b.png", "a.png"):
        Image.fromarray(images[1]).save(tmp_path / "more" / "sevens" / name)
    assert main(["classify", str(run), str(tmp_path / "digits.npy"), str(tmp_path / "one.png"),
                 str(tmp_path / "more"), "--json", str(tmp_path / "c.json")]) == 0
    result = json.loads((tmp_path / "c.json").read_text())["images"]
    assert [r["image"] for r in result] == ["digits.npy[0]", "digits.npy[1]", "digits.npy[2]",
                                            "one.png", "more/sevens/a.png", "more/sevens/b.png"]
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-4 for r in result)
    calibration = json.loads((tmp_path / "c.json").read_text())["calibration"]
    assert calibration["ece"] == metrics["classification"]["calibration"]["ece"]
    assert calibration["test_images"] == 1000 and len(calibration["bins"]) == 15

    assert main(["sample", str(run), "--class", "7", "-n", "4", "--npy",
                 str(tmp_path / "sevens.npy")]) == 0
    assert np.load(tmp_path / "sevens.npy").shape == (4, 1, 28, 28)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "Analogies" in html and "Semi-supervised classification" in html
    assert "1 (validation error " in html  # the kept epoch, by the criterion that kept it

    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress", "--no-eval"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_classify_answers_the_same_for_the_same_image_anywhere(run: Path, tmp_path: Path) -> None:
    from PIL import Image

    grey = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    Image.fromarray(grey[0]).save(tmp_path / "d0.png")
    Image.fromarray(grey[1]).save(tmp_path / "d1.png")
    d0, d1 = str(tmp_path / "d0.png"), str(tmp_path / "d1.png")

    def classify(*images: str) -> list[dict]:
        assert main(["classify", run.as_posix(), *images, "--json", str(tmp_path / "c.json")]) == 0
        return json.loads((tmp_path / "c.json").read_text())["images"]

    first, _, again = classify(d0, d1, d0)
    (alone,) = classify(d0)
    assert first == again
    assert first["class"] == alone["class"]
    assert first["probabilities"] == pytest.approx(alone["probabilities"], abs=1e-5)
    assert classify(d0, d1, d0)[0] == first  # and on every call


def test_time_budgets_without_epochs_set_the_length_of_m1_and_m2(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vaelab.training.config_files import MAX_EPOCHS

    run = tmp_path / "m1m2"
    assert main(["train", "--model", "m1m2", "--labels", "20", "--m1-time-budget", "0.001",
                 "--time-budget", "0.001", "--m2-latent-dim", "4", "--m2-hidden", "16", *TINY,
                 "--no-eval", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "time budget: 0.001 min of M1's training (--m1-time-budget" in out
    assert "until it runs out (no --m1-epochs given)" in out
    assert "min of M2's training (M1 trains first, outside it) (--time-budget" in out
    assert "M1 stops there; M2 trains on it next" in out
    assert f"`vaelab train --resume {run} --time-budget MINUTES` continues" in out
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["epochs"] == MAX_EPOCHS and saved["semisupervised"]["m1_epochs"] == MAX_EPOCHS
    assert json.loads((run / "m1" / "config.json").read_text())["train"]["epochs"] == MAX_EPOCHS


@pytest.mark.parametrize("kind, sizes", [("m1m2", ["--m1-epochs", "1", "--m2-latent-dim", "4",
                                                  "--m2-hidden", "16"]),
                                         ("sdgm", ["--auxiliary-dim", "3"])])
def test_classify_json_says_how_far_each_kind_can_be_trusted(tmp_path: Path, kind: str,
                                                             sizes: list[str]) -> None:
    """`classify --json` carries the run's test ECE and reliability bins for every kind (M2's and
    ADGM's are checked with their own runs above)."""
    run = tmp_path / kind
    assert main(["train", "--model", kind, "--labels", "20", "--epochs", "1", *sizes, *TINY,
                 "--run-dir", str(run)]) == 0
    np.save(tmp_path / "digits.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    assert main(["classify", str(run), str(tmp_path / "digits.npy"), "--json", str(tmp_path / "c.json")]) == 0
    calibration = json.loads((tmp_path / "c.json").read_text())["calibration"]
    found = json.loads((run / "metrics.json").read_text())["classification"]["calibration"]
    assert calibration["ece"] == found["ece"] and 0 <= calibration["ece"] <= 1
    assert sum(b["count"] for b in calibration["bins"]) == calibration["test_images"] == 1000


@pytest.mark.parametrize(("argv", "message"), [
    (["--labels", "5"], "fewer than one per class"),
    (["--labels", "100000"], "hold only 300 labelled examples"),
    (["--labels", "20", "--classes", "5"], "outside the class range"),
    (["--labels", "0"], "labels: must be a positive integer"),
    (["--labels", "20", "--m1-run", "nowhere"], "--m1-run belongs to --model m1m2"),
    (["--labels", "20", "--validation-labels", "1000"], "validation_labels = 1000: 1000 labels asked"),
    (["--labels", "20", "--validation-labels", "5"], "validation_labels = 5: 5 labels are fewer than one"),
])
def test_bad_training_requests_end_in_one_line(argv: list[str], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--model", "m2", *argv, *TINY, "--run-dir", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err


def test_bad_class_and_non_semisupervised_runs_are_refused(run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["sample", str(run), "--class", "12"]) == 2
    assert "--class must be in [0, 10)" in capsys.readouterr().err
    assert main(["classify", str(tmp_path), str(tmp_path / "x.npy")]) == 2
    assert "not a vaelab run folder" in capsys.readouterr().err
    image_run = tmp_path / "vae"
    image_run.mkdir()
    (image_run / "config.json").write_text(json.dumps({"model": {}, "data": {}, "train": {}}))
    assert main(["classify", str(image_run), str(tmp_path / "x.npy")]) == 2
    assert ("`vaelab classify` does not apply to runs of kind 'vae' (--model vae|deep); it is for "
            "--model m2|m1m2" in capsys.readouterr().err)
    assert main(["classify", str(run), str(tmp_path / "missing.npy")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_own_arrays_with_three_classes_and_extra_unlabelled_images(tmp_path: Path) -> None:
    """A user's .npz (3 classes) plus a separate .npy of unlabelled images."""
    rng = np.random.default_rng(0)
    prototypes = rng.random((3, 8, 8)) < 0.5

    def draw(labels: np.ndarray) -> np.ndarray:
        flips = rng.random((labels.size, 8, 8)) < 0.1
        return (prototypes[labels] ^ flips).astype(np.uint8)

    y_train, y_test = rng.integers(0, 3, 120), rng.integers(0, 3, 30)
    np.savez(tmp_path / "own.npz", x_train=draw(y_train), y_train=y_train, x_test=draw(y_test),
             y_test=y_test)
    np.save(tmp_path / "extra.npy", draw(rng.integers(0, 3, 50)))
    run = tmp_path / "own"
    assert main(["train", "--model", "m2", "--dataset", str(tmp_path / "own.npz"), "--labels", "6",
                 "--unlabelled", str(tmp_path / "extra.npy"), "--validation-size", "20",
                 "--latent-dim", "2", "--hidden", "16", "--classifier-hidden", "16",
                 "--batch-size", "25", "--labelled-batch-size", "6", "--epochs", "1",
                 "--eval-samples", "2", "--eval-examples", "10", "--no-progress",
                 "--run-dir", str(run)]) == 0
    labelled = json.loads((run / "labelled.json").read_text())
    assert labelled["classes"] == 3 and labelled["per_class"] == [2, 2, 2]
    assert max(labelled["indices"]) < 100  # the 50 extra images (after the 100 own) have no label
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["classification"]["confusion_matrix"]) == 3


@pytest.fixture(scope="module")
def adgm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "adgm"
    assert main(["train", "--model", "adgm", "--labels", "20", "--validation-labels", "50",
                 "--calibrate", "--auxiliary-dim", "3", "--epochs", "1", "--select-by", "error",
                 *TINY, "--run-dir", str(folder)]) == 0
    return folder


def test_adgm_trains_evaluates_classifies_reports_and_resumes_from_the_command_line(
        adgm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = adgm_run
    config = json.loads((run / "config.json").read_text())["semisupervised"]
    assert (config["kind"], config["auxiliary_dim"], config["calibrate"]) == ("adgm", 3, True)
    assert config["class_balance"] == 10  # the ADGM holds its class shares by default
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["kind"], metrics["labels"], metrics["validation_labels"], metrics["label_budget"]) == (
        "adgm", 20, 50, 70)
    found = metrics["classification"]
    assert len(found["calibration"]["bins"]) == 15 and 0 <= found["calibration"]["ece"] <= 1
    scaled = found["temperature_scaling"]
    assert scaled["validation_labels"] == 50 and scaled["temperature"] > 0
    use = found["auxiliary_use"]  # does the classifier use a? (vaelab.evaluation.auxiliary_use)
    assert use["examples"] == 1000 and use["draws"] == 100
    assert use["classifier_information"] >= 0 and use["spread"] >= 0 and isinstance(use["unused"], bool)
    assert 0 <= use["idle_units"] <= 1
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert len(record["valid_confusion"]) == 10 and sum(map(sum, record["valid_confusion"])) == 50
    assert len(record["valid_per_class_error"]) == 10 and "valid_ece" in record
    assert "collapsed_classes" in record and "train_kl_a" in record and "train_class_share_kl" in record

    assert main(["evaluate", str(run), "-k", "3", "--examples", "20"]) == 0
    out = capsys.readouterr().out
    assert "20 training + 50 validation labels" in out and "ECE" in out and "temperature scaling" in out

    np.save(tmp_path / "digits.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    assert main(["classify", str(run), str(tmp_path / "digits.npy"), "--json", str(tmp_path / "c.json")]) == 0
    assert "tempered by T" in capsys.readouterr().out
    result = json.loads((tmp_path / "c.json").read_text())
    assert len(result["images"]) == 2 and result["temperature"] == pytest.approx(scaled["temperature"])
    assert len(result["calibration"]["bins"]) == 15 and "after_temperature_scaling" in result["calibration"]

    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "ADGM trained with 20 labels" in html and "reliability diagram" in html
    assert "Auxiliary variable (1000 test images, 100 draws of a each): I(y; a | x)" in html

    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress", "--no-eval"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["classify", str(run), str(tmp_path / "digits.npy")]) == 0
    assert "fitted to other weights" in capsys.readouterr().out  # the weights moved on since


@pytest.mark.parametrize("kind", ["adgm", "sdgm"])
@pytest.mark.parametrize("average", [[], ["--ema", "0.9"]], ids=["raw", "ema"])
def test_an_auxiliary_run_resumes_exactly(tmp_path: Path, kind: str, average: list[str]) -> None:
    """Two epochs in one go and one epoch then a resumed second give the same records and the
    same weights (with a weight average too: its validation error and kept weights)."""
    from safetensors.torch import load_file

    common = ["train", "--model", kind, "--labels", "20", "--auxiliary-dim", "3", *TINY, "--no-eval",
              *average]
    assert main([*common, "--epochs", "2", "--run-dir", str(tmp_path / "straight")]) == 0
    assert main([*common, "--epochs", "1", "--run-dir", str(tmp_path / "resumed")]) == 0
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--epochs", "2", "--no-progress",
                 "--no-eval"]) == 0

    def records(name: str) -> list[dict]:
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert records("straight") == records("resumed")
    for saved in ("checkpoint.safetensors", "model_best.safetensors"):
        kept = [load_file(tmp_path / name / saved) for name in ("straight", "resumed")]
        assert kept[0].keys() == kept[1].keys()
        assert all(torch.equal(kept[0][k], kept[1][k]) for k in kept[0]), saved


@pytest.mark.slow
def test_nproc_trains_an_sdgm_on_two_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run = tmp_path / "ddp"
    assert main(["train", "--model", "sdgm", "--labels", "20", "--auxiliary-dim", "3", "--epochs", "1",
                 "--nproc", "2", *TINY, "--run-dir", str(run)]) == 0
    (record,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert record["valid_error"] is not None and (run / "checkpoint.safetensors").is_file()
    metrics = json.loads((run / "metrics.json").read_text())  # the final evaluation, written once
    assert metrics["kind"] == "sdgm" and metrics["labels"] == 20


def test_evaluate_calibrates_a_run_trained_without_calibrate(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "sdgm"
    assert main(["train", "--model", "sdgm", "--labels", "20", "--validation-labels", "40",
                 "--auxiliary-dim", "3", "--epochs", "1", *TINY, "--no-calibrate", "--no-eval",
                 "--run-dir", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["semisupervised"]["calibrate"] is False
    assert main(["evaluate", str(run), "-k", "2", "--examples", "10"]) == 0
    assert "temperature scaling" not in capsys.readouterr().out and not (run / "calibration.json").exists()
    assert main(["evaluate", str(run), "-k", "2", "--examples", "10", "--calibrate"]) == 0
    assert "temperature scaling" in capsys.readouterr().out
    scaled = json.loads((run / "metrics.json").read_text())["classification"]["temperature_scaling"]
    assert scaled["validation_labels"] == 40 and scaled["temperature"] > 0
    np.save(tmp_path / "digits.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    assert main(["classify", str(run), str(tmp_path / "digits.npy")]) == 0
    assert "tempered by T" in capsys.readouterr().out
    bare = tmp_path / "no-validation-labels"
    assert main(["train", "--model", "m2", "--labels", "20", "--validation-labels", "0", "--epochs", "1",
                 *TINY, "--no-eval", "--run-dir", str(bare)]) == 0
    assert main(["evaluate", str(bare), "--calibrate"]) == 2
    assert "has none" in capsys.readouterr().err


def test_a_class_without_a_labelled_example_is_one_clear_error(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 2] * 30)
    images = (rng.random((60, 8, 8)) < 0.5).astype(np.uint8)
    np.savez(tmp_path / "own.npz", x_train=images, y_train=labels, x_test=images[:10], y_test=labels[:10])
    assert main(["train", "--model", "adgm", "--dataset", str(tmp_path / "own.npz"), "--classes", "3",
                 "--labels", "6", "--validation-size", "0", "--epochs", "1", "--no-progress",
                 "--run-dir", str(tmp_path / "r")]) == 2
    assert "class 1 has no labelled example" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["vae", "sdgm"])
def test_nproc_names_the_shared_run_folder_after_the_dataset_of_the_flags_or_the_config_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    import vaelab.kinds.vae as vae_kind

    launched: list[list[str]] = []
    monkeypatch.setattr(vae_kind.subprocess, "call", lambda command: launched.append(command) or 0)
    config = tmp_path / "fashion.toml"
    config.write_text('[data]\ndataset = "fashion-mnist"\n')
    assert main(["train", "--model", model, "--nproc", "2", "--epochs", "1"]) == 0
    assert main(["train", "--model", model, "--nproc", "2", "--config", str(config)]) == 0
    assert main(["train", "--model", model, "--nproc", "2", "--dataset", "mnist"]) == 0
    folders = [Path(command[command.index("--run-dir") + 1]).name for command in launched]
    assert [folder.rsplit("-", 2)[0] for folder in folders] == ["mnist-5k", "fashion-mnist", "mnist"]
    assert all("--nproc" not in command for command in launched)


def test_an_auxiliary_kind_starts_from_the_settings_its_benchmark_measured(tmp_path: Path) -> None:
    """`--model sdgm` with no other settings: the CPU sizes, lr 1e-3, warm-up, EMA, non-finite
    steps skipped, selection by validation error and a fitted temperature (the paper's sizes
    stay one set of flags away)."""
    run = tmp_path / "sdgm"
    assert main(["train", "--model", "sdgm", "--labels", "20", "--epochs", "1", "--train-limit", "200",
                 "--dataset", "mnist-5k", "--validation-size", "50", "--no-progress", "--no-eval",
                 "--run-dir", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"]["latent_dim"], saved["model"]["hidden"]) == (50, [500])
    semi = saved["semisupervised"]
    assert (semi["auxiliary_dim"], semi["classifier_hidden"]) == (50, [500])
    train = saved["train"]
    assert (train["learning_rate"], train["kl_warmup_steps"], train["ema_decay"]) == (1e-3, 2000, 0.999)
    assert train["grad_skip"] == float("inf")
    assert (saved["semisupervised"]["select_by"], saved["semisupervised"]["calibrate"]) == ("error", True)


def test_without_validation_labels_the_kinds_defaults_give_way_but_a_users_choice_does_not(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    common = ["train", "--model", "adgm", "--labels", "20", "--epochs", "1", "--train-limit", "200",
              "--dataset", "mnist-5k", "--validation-size", "0", "--latent-dim", "4", "--hidden", "16",
              "--classifier-hidden", "16", "--auxiliary-dim", "3", "--no-progress", "--no-eval"]
    assert main([*common, "--run-dir", str(tmp_path / "defaults")]) == 0
    saved = json.loads((tmp_path / "defaults" / "config.json").read_text())["semisupervised"]
    assert (saved["select_by"], saved["calibrate"]) == ("bound", False)
    assert main([*common, "--select-by", "error", "--run-dir", str(tmp_path / "asked")]) == 2
    assert "needs labelled validation images" in capsys.readouterr().err
