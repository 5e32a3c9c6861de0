"""Sequence-model commands smoke-run with tiny sizes: simulate, train --model ssm, predict, sample,
compare; and their mistakes end in one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vaelab.cli.main import main
from vaelab.data.pendulum import read_splits
from vaelab.evaluation.sequence_run import evaluate_sequence_run
from vaelab.kinds.ssm_training import load_sequence_run
from vaelab.training.fast_path import cpu_has_bf16_units

TINY_DATA = {"train_sequences": 24, "train_length": 12, "valid_sequences": 4, "valid_length": 12,
             "test_sequences": 6, "test_length": 20, "image_size": 16}
TINY_MODEL = {"encoder_hidden": [16, 8], "rnn_hidden": 8, "combiner_hidden": 8, "decoder_hidden": [16],
              "transition_hidden": 8}


def _config(tmp_path: Path, **model: object) -> Path:
    path = tmp_path / f"ssm-{len(list(tmp_path.glob('ssm-*.json')))}.json"
    path.write_text(json.dumps({"model": {**TINY_MODEL, **model},
                                "data": {"data_dir": str(tmp_path / "data"), "pendulum": TINY_DATA},
                                "train": {"batch_size": 8}}))
    return path


def _train(tmp_path: Path, name: str, *extra: str, **model: object) -> Path:
    run = tmp_path / name
    assert main(["train", "--model", "ssm", "--config", str(_config(tmp_path, **model)), "--epochs", "1",
                 "--eval-samples", "2", "--eval-examples", "3", "--run-dir", str(run), "--no-progress",
                 *extra]) == 0
    return run


def test_simulate_writes_the_dataset_and_a_preview(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "sim"
    argv = ["simulate", "pendulum", "--out", str(out), "--force", "sine", "--damping", "0.2", "--seed", "4"]
    argv += [f"--{k.replace('_', '-')}={v}" for k, v in TINY_DATA.items()]
    assert main(argv) == 0
    config, splits = read_splits(out / "pendulum.npz")
    assert config.force == "sine" and config.damping == 0.2 and config.seed == 4
    assert splits["train"].frames.shape == (24, 12, 1, 16, 16)
    assert splits["test"].states.shape == (6, 20, 2)
    assert (out / "preview.png").is_file()
    printed = capsys.readouterr().out
    assert printed.startswith(f"simulating 34 pendulum sequences (train, valid, test) -> {out} ...")
    assert "wrote" in printed


def test_minutes_without_epochs_train_until_the_budget_named_as_typed(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vaelab.training.config_files import MAX_EPOCHS

    run = tmp_path / "budget"
    assert main(["train", "--model", "ssm", "--config", str(_config(tmp_path)), "--minutes", "0.001",
                 "--eval-samples", "2", "--eval-examples", "3", "--run-dir", str(run),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    before, _, after = out.partition("epoch 1 ")
    assert "time budget: 0.001 min of training (--minutes" in before
    assert "until it runs out (no --epochs given)" in before
    assert "the final evaluation comes after it, outside the budget" in before
    assert f"`vaelab train --resume {run} --minutes MINUTES` continues" in after
    assert "--time-budget" not in out
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == MAX_EPOCHS


@pytest.mark.slow
def test_train_predict_sample_compare_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _train(tmp_path, "physics", "--seed", "1")
    out = capsys.readouterr().out
    assert "probe R²" in out and "valid prediction time" in out and str(run.resolve()) in out
    saved = json.loads((run / "config.json").read_text())
    assert saved["kind"] == "ssm" and saved["train"]["seed"] == 1 and saved["data"]["dataset"] == "pendulum"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["probe"]["linear_r2"]) == {"sin_theta", "cos_theta", "omega"}
    first_probe = metrics["probe"]
    assert metrics["test"]["iwae_per_frame"]["n"] == 3 and metrics["test"]["smc_per_frame"]["n"] == 3
    assert "particle filter (SMC_2)" in out
    assert metrics["constants"]["learned"]["g_over_L"] > 0
    for name in ("checkpoint.safetensors", "model_best.safetensors", "metrics.jsonl", "predictions.gif",
                 "predictions.png", "reconstructions.png"):
        assert (run / name).is_file(), name

    # a weaker second evaluation is kept beside the first; the pictures of this model stay
    drawn = (run / "predictions.png").stat().st_mtime_ns
    capsys.readouterr()
    second = evaluate_sequence_run(run, load_sequence_run, k=1, sequences=2, progress=True,
                                   log=lambda line: None)
    err = capsys.readouterr().err
    assert "evidence: ELBO, IWAE_1, SMC_1" in err and "120/120" in err  # 2 sequences × 20 frames × (2k + 1)
    assert (run / "predictions.png").stat().st_mtime_ns == drawn
    assert str(run / "predictions.png") in second["kept"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["iwae_samples"] == 2 and metrics["probe"] == first_probe  # the stronger leads
    kept = metrics["evaluations"]
    assert [(e["k"], e["examples"]) for e in kept["all"]] == [(2, 3), (1, 2)]
    assert kept["latest"]["test"]["iwae_samples"] == 1 and kept["strongest"]["k"] == 2

    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress", "--no-eval"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2

    # `vaelab evaluate` takes sequence runs through the same command as any other kind
    assert main(["evaluate", str(run), "-k", "3", "--examples", "2"]) == 0
    out = capsys.readouterr().out
    assert "particle filter (SMC_3)" in out and "probe R²" in out
    assert json.loads((run / "metrics.json").read_text())["test"]["smc_per_frame"]["n"] == 2
    assert main(["evaluate", str(run), "-k", "3", "--examples", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test"]["smc_per_frame"]["n"] == 2  # the JSON alone

    assert main(["predict", str(run), "--context", "5", "--horizon", "15", "--sequences", "2"]) == 0
    out = capsys.readouterr().out
    assert "copy_last" in out and "mean_frame" in out

    # do(u): an imposed torque against the simulator; a torque file of the wrong length is refused
    assert main(["predict", str(run), "--context", "5", "--horizon", "10", "--torque", "constant:3"]) == 0
    out = capsys.readouterr().out
    assert "do(u = constant:3)" in out and "valid prediction time" in out
    assert main(["predict", str(run), "--context", "5", "--horizon", "10", "--torque", "sine:4,0.5"]) == 0
    for torque in ("constant-3", "sine-4_0.5"):  # one set of files per torque, with its numbers
        kept = json.loads((run / f"intervene-{torque}-c5-h10.json").read_text())
        assert 0 <= kept["valid_prediction_time"] <= 1 and (run / f"intervene-{torque}-c5-h10.gif").is_file()
    (tmp_path / "u.csv").write_text("1,2,3\n")
    assert main(["predict", str(run), "--context", "5", "--horizon", "10", "--torque",
                 str(tmp_path / "u.csv")]) == 2
    assert "holds 3 values; the horizon is 10" in capsys.readouterr().err
    assert (run / "predict-c5-h15.png").is_file() and (run / "predict-c5-h15.gif").is_file()
    assert "model" in json.loads((run / "predict-c5-h15.json").read_text())["scores"]

    assert main(["sample", str(run), "-n", "3", "--seed", "2", "--npy", str(tmp_path / "s.npy")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (3, 12, 1, 16, 16) and 0 <= samples.min() and samples.max() <= 1
    assert (run / "samples-2.png").is_file() and (run / "samples-2.gif").is_file()

    other = _train(tmp_path, "generic", transition="generic", latent_dim=4)
    capsys.readouterr()
    assert main(["compare", str(run), str(other), "-k", "3", "--sequences", "4",
                 "--json", str(tmp_path / "cmp.json")]) == 0
    table = capsys.readouterr().out
    assert "physics (pendulum)" in table and "generic (generic)" in table and "IWAE_3/frame" in table
    assert "SMC_3/frame" in table
    rows = json.loads((tmp_path / "cmp.json").read_text())["rows"]
    assert len(rows) == 2 and rows[0]["iwae_per_frame"]["n"] == 4 and rows[0]["smc_per_frame"]["n"] == 4
    assert rows[0]["smc_per_frame"]["mean"] >= rows[1]["smc_per_frame"]["mean"]  # best first


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["train", "--model", "ssm", "--pendulum", "damping=-1"], "pendulum.damping"),
     (["train", "--model", "ssm", "--dataset", "mnist-5k"], "data.dataset"),
     (["train", "--model", "ssm", "--noise-ceiling", "0.01", "0.01"], "model.noise_ceiling"),
     (["train", "--model", "ssm", "--init-transition"], "train.init_transition"),
     (["train", "--model", "ssm", "--binarization", "static"], "--binarization"),
     (["train", "--model", "ssm", "--transition", "pendulum", "--latent-dim", "5"], "model.latent_dim"),
     (["simulate", "pendulum", "--out", "OUT", "--image-size", "4"], "pendulum.image_size"),
     (["simulate", "pendulum", "--out", "OUT", "--train-length", "0"], "pendulum.train_length"),
     (["predict", "/no/such/run"], "does not exist"),
     (["compare", "/no/such/run", "/no/such/other"], "does not exist")],
)
def test_mistakes_give_one_clear_error(argv: list[str], message: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    if argv[0] == "train":
        argv += ["--run-dir", str(tmp_path / "r"), "--epochs", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaelab: error:") and message in err and "Traceback" not in err


def test_predict_horizon_beyond_the_test_sequences_is_refused(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    run = _train(tmp_path, "r", "--no-eval")
    assert main(["predict", str(run), "--context", "10", "--horizon", "90"]) == 2
    assert "--horizon must be in [1, 10]" in capsys.readouterr().err


def test_init_from_warm_starts_another_rule(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = _train(tmp_path, "physics", "--no-eval")
    run = _train(tmp_path, "undamped", "--no-eval", "--transition", "undamped", "--init-from", str(source))
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["init_from"] == str(source) and saved["model"]["transition"] == "undamped"
    assert "warm start from" in capsys.readouterr().out
    tight = _train(tmp_path, "tight", "--no-eval", "--transition", "undamped", "--init-from", str(run),
                   "--init-transition", "--noise-ceiling", "0.002", "0.002", "0.01")
    saved = json.loads((tight / "config.json").read_text())
    assert saved["train"]["init_transition"] is True
    assert saved["model"]["noise_ceiling"] == [0.002, 0.002, 0.01]
    assert "the transition's own stay fresh" not in capsys.readouterr().out
    # the speed switches may change on resume, as for frame models
    assert main(["train", "--resume", str(tight), "--epochs", "2", "--bf16", "--no-eval",
                 "--no-progress"]) == 0
    assert json.loads((tight / "config.json").read_text())["train"]["precision"] == "bf16"
    warned = "warning: bf16 autocast on a CPU" in capsys.readouterr().out
    assert warned == (not cpu_has_bf16_units())  # only where bf16 would be slower


def test_input_hypotheses_none_and_placebo(tmp_path: Path) -> None:

    none = _train(tmp_path, "none", "--input", "none", "--no-eval")
    saved = json.loads((none / "config.json").read_text())
    assert saved["model"]["driven"] is False and saved["data"]["torque"] == "recorded"
    placebo = _train(tmp_path, "placebo", "--input", "placebo", "--no-eval")
    assert json.loads((placebo / "config.json").read_text())["data"]["torque"] == "placebo"
    _, _, shuffled = load_sequence_run(placebo)
    _, _, recorded = load_sequence_run(none)
    assert shuffled["test"].frames.equal(recorded["test"].frames)       # the same motion ...
    assert not shuffled["test"].actions.equal(recorded["test"].actions)  # ... told another torque


def test_report_of_a_sequence_run_shows_its_causal_checks(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    run = _train(tmp_path, "physics", "--no-eval")
    capsys.readouterr()
    assert main(["report", str(run), "--sequences", "2", "--torque", "constant:5", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'report.html'}"
    page = (run / "report.html").read_text()
    assert 'id="run1-run"' in page and 'id="run1-causal"' in page and "<td>constant:5</td>" in page



def test_resuming_with_fewer_epochs_than_trained_is_refused(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    run = _train(tmp_path, "physics", "--no-eval")
    config = (run / "config.json").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "0", "--no-progress"]) == 2
    assert "has already trained 1 epochs; --epochs 0 is fewer" in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == config


def test_training_and_a_later_evaluate_give_the_same_evidence_whatever_the_training_seed(
        tmp_path: Path) -> None:
    run = _train(tmp_path, "physics", "--seed", "2")
    assert main(["evaluate", str(run), "-k", "2", "--examples", "3", "--no-progress"]) == 0
    records = sorted((json.loads(p.read_text()) for p in (run / "evaluations").glob("*.json")),
                     key=lambda e: e["time"])
    assert [e["settings"]["seed"] for e in records] == [0, 0]
    assert records[0]["results"]["test"] == records[1]["results"]["test"]


def test_predict_and_compare_read_the_simulated_data_from_data_dir(tmp_path: Path) -> None:
    run = _train(tmp_path, "physics", "--no-eval")
    elsewhere = tmp_path / "elsewhere"
    assert main(["predict", str(run), "--context", "5", "--horizon", "5", "--sequences", "2",
                 "--data-dir", str(elsewhere), "--out", str(tmp_path / "p")]) == 0
    assert list((elsewhere / "pendulum").glob("*.npz"))  # simulated and cached there, not in the run's
    assert main(["compare", str(run), str(run), "-k", "2", "--sequences", "2", "--no-progress",
                 "--data-dir", str(elsewhere)]) == 0
    assert main(["evaluate", str(run), "-k", "2", "--examples", "2", "--no-progress",
                 "--data-dir", str(elsewhere)]) == 0
