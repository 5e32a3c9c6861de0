"""Every command smoke-run with tiny sizes, and every user mistake ends in one clear line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vaelab.cli.main import main
from vaelab.training.fast_path import cpu_has_bf16_units

TINY = ["--dataset", "mnist-5k", "--train-limit", "256", "--validation-size", "100",
        "--latent-dim", "4", "--hidden", "32", "--batch-size", "64", "--eval-samples", "10",
        "--eval-examples", "40", "--no-progress"]


@pytest.mark.slow
def test_train_evaluate_sample_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "test ELBO" in out and str(run.resolve()) in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["examples"] == 40
    assert metrics["test"]["log_px_is"]["mean"] >= metrics["test"]["elbo"]["mean"] - 1.0

    # a resumed run may switch the speed settings: here bf16 autocast (with its CPU warning)
    assert main(["train", "--resume", str(run), "--epochs", "3", "--bf16", "--no-progress"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "bf16"
    warned = "warning: bf16 autocast on a CPU" in capsys.readouterr().out
    assert warned == (not cpu_has_bf16_units())  # only where bf16 would be slower

    assert main(["evaluate", str(run), "-k", "20", "--examples", "30", "--compare-estimators",
                 "--ks", "1,10", "--compare-examples", "8", "--ais-examples", "3",
                 "--ais-chains", "2", "--ais-steps", "5", "--bdmc", "3", "--bdmc-steps", "4,2"]) == 0
    ais = json.loads((run / "metrics.json").read_text())["ais"]
    assert ais["examples"] == 3 and ais["log_px_ais"]["mean"] < 0
    bdmc = json.loads((run / "metrics.json").read_text())["bdmc"]
    assert bdmc["examples"] == 3 and [row["steps"] for row in bdmc["rows"]] == [2, 4]
    assert "BDMC on 3 examples simulated from the model" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--calibrate"]) == 2  # a VAE has no classifier to calibrate
    assert "semi-supervised run" in capsys.readouterr().err
    estimators = json.loads((run / "estimators.json").read_text())
    assert [row["k"] for row in estimators["rows"]] == [1, 10]
    assert (run / "estimators.png").is_file()

    assert main(["sample", str(run), "-n", "9", "--seed", "3", "--npy", str(tmp_path / "s.npy")]) == 0
    import numpy as np

    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (9, 1, 28, 28) and 0.0 <= samples.min() and samples.max() <= 1.0
    assert (run / "samples-3.png").is_file()


def test_train_streams_a_npy_and_evaluates_reading_only_test_rows(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (120, 8, 8, 3), dtype=np.uint8))
    args = ["train", "--dataset", str(tmp_path / "x.npy"), "--validation-size", "20", "--latent-dim", "3",
            "--hidden", "16", "--likelihood", "gaussian", "--batch-size", "32", "--epochs", "1",
            "--eval-samples", "5", "--eval-examples", "8", "--no-progress"]
    assert main([*args, "--stream", "--workers", "1", "--out", str(tmp_path / "stream")]) == 0
    assert main([*args, "--out", str(tmp_path / "memory")]) == 0
    numbers = [json.loads((tmp_path / run / "metrics.json").read_text())["test"]["elbo"]
               for run in ("stream", "memory")]
    assert numbers[0] == numbers[1]
    assert json.loads((tmp_path / "stream" / "config.json").read_text())["data"]["workers"] == 1
    capsys.readouterr()
    assert main(["train", "--dataset", str(tmp_path / "x.npy"), "--workers", "2", "--no-progress"]) == 2
    assert "only when streaming" in capsys.readouterr().err


def test_resuming_with_fewer_epochs_than_trained_is_refused_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--no-eval", "--run-dir", str(run)]) == 0
    config = (run / "config.json").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has already trained 2 epochs; --epochs 1 is fewer" in err
    assert (run / "config.json").read_bytes() == config  # the report still says 2 of 2 epochs
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress", "--no-eval"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def _evaluations(run: Path) -> list[dict]:
    """RUN/evaluations/*.json, oldest first, their test figures without the wall-clock time."""
    found = [json.loads(path.read_text()) for path in (run / "evaluations").glob("*.json")]
    for record in found:
        record["results"]["test"].pop("seconds", None)
    return sorted(found, key=lambda e: e["time"])


def test_training_and_a_later_evaluate_give_the_same_figures_whatever_the_training_seed(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--seed", "3", "--run-dir", str(run)]) == 0
    assert main(["evaluate", str(run), "-k", "10", "--examples", "40", "--no-progress"]) == 0
    final, later = _evaluations(run)
    assert final["settings"]["seed"] == later["settings"]["seed"] == 0  # kept with each evaluation
    assert final["results"]["test"] == later["results"]["test"]
    summary = json.loads((run / "metrics.json").read_text())["evaluations"]
    assert summary["latest"]["seed"] == 0
    assert main(["evaluate", str(run), "-k", "10", "--examples", "40", "--seed", "5", "--no-progress"]) == 0
    other = _evaluations(run)[-1]
    assert other["settings"]["seed"] == 5 and other["results"]["test"] != final["results"]["test"]


@pytest.mark.slow
def test_a_flow_guide_with_free_bits_trains_evaluates_and_reports(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--posterior", "iaf:2", "--free-bits", "0.5",
                 "--run-dir", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["model"]["posterior"] == "iaf:2"
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["train_kl_free_bits"] >= 0.5 and "train_bound" in record
    assert main(["evaluate", str(run), "-k", "20", "--examples", "30", "--compare-estimators",
                 "--ks", "1,10", "--compare-examples", "8", "--ais-examples", "3",
                 "--ais-chains", "2", "--ais-steps", "5"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["log_px_is"]["mean"] >= metrics["test"]["elbo"]["mean"] - 1.0
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    assert main(["train", *TINY, "--epochs", "1", "--posterior", "spline:1", "--objective", "iwae-dreg",
                 "--samples", "2", "--no-eval", "--run-dir", str(tmp_path / "dreg")]) == 0


def test_train_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[model]\nlatent_dim = 3\nhidden = [16]\n[data]\ntrain_limit = 128\n'
                      'validation_size = 50\n[train]\nepochs = 1\neval_samples = 5\n'
                      'eval_examples = 10\nobjective = "iwae"\nsamples = 2\n')
    assert main(["train", "--config", str(config), "--run-dir", str(tmp_path / "r"),
                 "--no-progress", "--seed", "4"]) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["train"]["objective"] == "iwae" and saved["train"]["seed"] == 4


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "demo"
    assert main(["demo", "--run-dir", str(run), "--epochs", "1", "--eval-samples", "5",
                 "--ks", "1,10", "--compare-examples", "5", "--no-progress"]) == 0
    for name in ("samples.png", "reconstructions.png", "training_curve.png", "metrics.json",
                 "estimators.png", "estimators.json"):
        assert (run / name).is_file(), name
    assert main(["demo", "--out", str(run), "--epochs", "1"]) == 2  # demo has no --resume to suggest
    err = capsys.readouterr().err
    assert "already holds a run: pass another --out" in err and f"vaelab train --resume {run}" in err


def test_demo_help_states_the_time_the_readme_states() -> None:
    from vaelab.cli.main import build_parser

    listing = " ".join(build_parser().format_help().split())  # `vaelab --help` lists each command
    minutes = re.search(r"demo .*?\(offline, (\d–\d) min on 2 cores\)", listing)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert minutes is not None and f"`make demo` takes {minutes.group(1)} minutes" in readme


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["train", "--epochs", "-1"], "train.epochs"),
     (["train", "--dataset", "no-such-data", "--epochs", "1"], "no-such-data"),
     (["train", "--likelihood", "bernoulli", "--binarization", "none", "--epochs", "1"],
      "binarization"),
     (["evaluate", "/no/such/run"], "does not exist"),
     (["sample", "/no/such/run"], "does not exist"),
     (["train", "--resume", "/no/such/run"], "does not exist"),
     (["train", "--device", "gpu", "--epochs", "1"], "train.device: must be"),
     (["train", "--dataset", "mnist", "--data-dir", "/no/such/folder"], "its parent folder does not exist"),
     (["train", "--likelihood", "gaussian", "--binarization", "static", "--epochs", "1"],
      "--binarization static applies to a Bernoulli likelihood"),
     (["train", "--prior", "normal", "--prior-components", "5", "--epochs", "1"],
      "--prior-components applies to the mixture priors"),
     (["train", "--posterior", "iaf:0", "--epochs", "1"],
      "model.posterior: guide family 'iaf:0': the number of steps K must be an integer >= 1"),
     (["train", "--posterior", "householder", "--epochs", "1"],
      "model.posterior: unknown guide family 'householder'; choose one of diagonal, full, planar:K"),
     (["train", "--posterior", "iaf:2", "--upper-latents", "2", "--epochs", "1"],
      "model.posterior: stacked stochastic layers have diagonal Gaussian conditionals"),
     (["train", "--free-bits", "-1", "--epochs", "1"], "train.free_bits: must be >= 0"),
     (["train", *TINY, "--posterior", "planar:1", "--objective", "iwae-dreg", "--epochs", "1"],
      "train.objective: the objective 'iwae-dreg' scores z with stopped guide parameters, which the "
      "guide family 'planar:1' cannot do")],
)
def test_user_mistakes_give_one_clear_error(argv: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    code = main([*argv, *(["--run-dir", str(tmp_path / "r")] if argv[0] == "train"
                          and "--resume" not in argv else [])])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("vaelab: error:") and message in err
    assert "Traceback" not in err


def test_bad_config_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"train": {"learning_rate": 0}}))
    assert main(["train", "--config", str(config), "--run-dir", str(tmp_path / "r")]) == 2
    assert "train.learning_rate" in capsys.readouterr().err


def test_console_script_help() -> None:
    result = subprocess.run([sys.executable, "-m", "vaelab", "train", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--resume RUN" in result.stdout and "--likelihood" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "vaelab", "train", "--no-such-flag"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unrecognized arguments" in bad.stderr


def test_own_grey_data_with_bernoulli_is_refused_then_accepted(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    array = np.random.default_rng(0).integers(0, 256, size=(60, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", array)
    argv = ["train", "--dataset", str(tmp_path / "x.npy"), "--epochs", "1", "--hidden", "8",
            "--latent-dim", "2", "--validation-size", "10", "--eval-samples", "2", "--no-progress"]
    assert main([*argv, "--run-dir", str(tmp_path / "a")]) == 2
    assert "binarization" in capsys.readouterr().err
    assert main([*argv, "--run-dir", str(tmp_path / "b"), "--likelihood", "logistic8"]) == 0
    assert main([*argv, "--run-dir", str(tmp_path / "c"), "--binarization", "static"]) == 0


def test_zero_epochs_evaluates_the_initial_model(tmp_path: Path) -> None:
    import json

    import numpy as np

    array = np.random.default_rng(0).integers(0, 256, size=(60, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", array)
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "x.npy"), "--epochs", "0", "--hidden", "8",
                 "--latent-dim", "2", "--validation-size", "10", "--eval-samples", "2", "--no-progress",
                 "--likelihood", "logistic8", "--run-dir", str(run)]) == 0
    assert (run / "checkpoint.safetensors").is_file() and (run / "model_best.safetensors").is_file()
    assert not (run / "metrics.jsonl").exists()  # no epoch was trained
    untrained = json.loads((run / "metrics.json").read_text())
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    trained = json.loads((run / "metrics.json").read_text())
    assert trained["test"]["elbo"]["mean"] > untrained["test"]["elbo"]["mean"]  # nats: training helped


@pytest.mark.parametrize(("section", "message"), [
    ('[model]\nlatent_dim = 2.5', "model.latent_dim: expected int, got 2.5"),
    ('[model]\nlatent_dim = true', "model.latent_dim: expected int, got True"),
    ('[model]\nhidden = "abc"', "model.hidden: expected tuple[int, ...], got 'abc'"),
    ('[train]\nepochs = 1.5', "train.epochs: expected int, got 1.5"),
    ('[train]\nlearning_rate = "fast"', "train.learning_rate: expected float, got 'fast'"),
])
def test_a_config_value_of_the_wrong_type_names_its_key(section: str, message: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.toml").write_text(section + "\n")
    assert main(["train", "--config", str(tmp_path / "c.toml"), "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    (tmp_path / "c.yaml").write_text("train: {}\n")
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "a config is a .toml or a .json file" in capsys.readouterr().err


def test_a_time_budget_without_epochs_trains_until_it_and_says_what_it_covers(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vaelab.training.config_files import MAX_EPOCHS

    run = tmp_path / "budget"
    assert main(["train", *TINY, "--time-budget", "0.002", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    before, _, after = out.partition("epoch 1 ")  # said before the first epoch's line
    assert "time budget: 0.002 min of training (--time-budget" in before
    assert "until it runs out (no --epochs given)" in before
    assert "the final evaluation comes after it, outside the budget" in before
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == MAX_EPOCHS
    assert f"; `vaelab train --resume {run} --time-budget MINUTES` continues" in after
    # epochs given by a flag or in a config file still end the run
    assert main(["train", *TINY, "--time-budget", "5", "--epochs", "2", "--no-eval",
                 "--run-dir", str(tmp_path / "flag")]) == 0
    out = capsys.readouterr().out
    assert "or 2 epochs, whichever ends first" in out and "final evaluation" not in out
    config = tmp_path / "c.toml"
    config.write_text("[train]\nepochs = 1\ntime_budget_minutes = 5\n")
    assert main(["train", *TINY, "--config", str(config), "--no-eval",
                 "--run-dir", str(tmp_path / "file")]) == 0
    assert json.loads((tmp_path / "file" / "config.json").read_text())["train"]["epochs"] == 1


@pytest.mark.slow
def test_resume_names_what_it_refuses_and_old_figures_are_not_passed_off_as_new(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 0
    for extra, named in ((["--batch-size", "32"], "train.batch_size"),
                         (["--out", str(tmp_path / "x")], "--out")):
        assert main(["train", "--resume", str(run), "--epochs", "2", *extra]) == 2
        assert named in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["sample", str(run), "--device", "gpu"]) == 2  # every command, not only train
    assert "device 'gpu' is not one torch knows" in capsys.readouterr().err
    # trained further without an evaluation: metrics.json no longer describes the weights
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-eval", "--no-progress"]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert "of EARLIER weights" in (tmp_path / "r.html").read_text()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert "stands" not in capsys.readouterr().out  # so a resume with nothing to train evaluates
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert "stands" in capsys.readouterr().out  # and then the evaluation does stand


def test_a_run_on_your_own_file_named_relatively_is_usable_from_anywhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "x.npy", np.random.default_rng(0).integers(0, 256, (60, 8, 8), np.uint8))
    monkeypatch.chdir(tmp_path / "data")
    assert main(["train", "--dataset", "x.npy", "--epochs", "1", "--hidden", "8", "--latent-dim", "2",
                 "--validation-size", "10", "--eval-samples", "2", "--no-progress", "--likelihood",
                 "logistic8", "--run-dir", str(tmp_path / "run")]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(tmp_path / "run"), "-k", "2", "--examples", "5"]) == 0
    # recorded as typed (a project moved with its data still works from its root) beside where found
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert data["dataset"] == "x.npy" and data["found_in"] == str(tmp_path / "data" / "x.npy")


def test_a_validation_size_for_data_with_its_own_validation_split_is_said_unused(
        capsys: pytest.CaptureFixture) -> None:
    from vaelab.kinds.vae import note_own_validation_split

    note_own_validation_split({"data": {"validation_size": 100}}, "binarized-mnist")
    assert "has its own validation split of 10,000 images" in capsys.readouterr().out
    note_own_validation_split({"data": {"validation_size": 100}}, "mnist")  # split off as asked
    note_own_validation_split({}, "binarized-mnist")  # not asked for: nothing to say
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("flags", "message"), [
    (["--bdmc", "0"], "examples (--bdmc N) must be >= 1, got 0"),
    (["--bdmc", "4", "--bdmc-steps", "10,0"], "annealing steps (--bdmc-steps) must each be >= 1"),
    (["--bdmc-steps", "10"], "--bdmc-steps and --bdmc-chains apply to --bdmc N"),
])
def test_bad_bdmc_settings_are_one_line_before_any_work(flags: list[str], message: str,
                                                        capsys: pytest.CaptureFixture) -> None:
    old_run = Path(__file__).resolve().parents[1] / "compatibility" / "runs" / "vae"
    before = sorted(p.name for p in old_run.rglob("*"))
    assert main(["evaluate", str(old_run), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaelab: error:") and message in err and "Traceback" not in err
    assert sorted(p.name for p in old_run.rglob("*")) == before
