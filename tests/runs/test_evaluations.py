"""Every evaluation is kept: a second `vaelab evaluate` adds to the first instead of replacing it,
pictures are drawn once per model, an old run folder is imported first; progress bars on demand."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from vaelab import __version__
from vaelab.cli.main import main
from vaelab.evaluation import compare_estimators, held_out_metrics
from vaelab.evaluation.metrics import ais_metrics
from vaelab.evaluation.run import evaluate_run
from vaelab.kinds import load_run
from vaelab.models import LinearGaussianModel
from vaelab.reports import Table, load_context, write_report
from vaelab.reports.summary import final_metrics
from vaelab.training.experiment import load_trained_model

TINY = ["--dataset", "mnist-5k", "--train-limit", "256", "--validation-size", "100",
        "--latent-dim", "4", "--hidden", "32", "--batch-size", "64", "--no-progress"]
PICTURES = ("samples.png", "reconstructions.png", "training_curve.png")
ESTIMATOR_FILES = ("estimators.json", "estimators.txt", "estimators.png")
COMPARE = ["-k", "20", "--examples", "30", "--compare-estimators", "--ks", "1,10", "--compare-examples", "8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch run, not yet evaluated; each test works on its own copy."""
    run = tmp_path_factory.mktemp("kept") / "run"
    assert main(["train", *TINY, "--epochs", "1", "--no-eval", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def records(run: Path) -> list[dict]:
    return sorted((json.loads(p.read_text()) for p in (run / "evaluations").glob("*.json")),
                  key=lambda r: r["time"])


@pytest.mark.slow
def test_a_second_evaluation_adds_to_the_first_and_the_report_shows_both(
        run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(run), *COMPARE]) == 0
    drawn = {name: (run / name).stat().st_mtime_ns for name in (*PICTURES, *ESTIMATOR_FILES)}
    assert capsys.readouterr().err == ""  # stderr is no terminal here: no bars
    assert main(["evaluate", str(run), "-k", "5", "--examples", "10", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert "kept (drawn earlier from the same model)" in out.out
    assert "metrics.json keeps the stronger evaluation" in out.out

    first, second = records(run)
    assert (first["settings"]["k"], first["results"]["test"]["examples"]) == (20, 30)
    assert (second["settings"]["k"], second["results"]["test"]["examples"]) == (5, 10)
    assert first["settings"]["estimators"] == ["elbo", "importance_sampling", "prior_monte_carlo"]
    assert first["settings"]["compare"] == {"ks": [1, 10], "examples": 8}
    assert second["settings"]["seed"] == 0 and second["vaelab_version"] == __version__
    assert second["time"].endswith("Z") and second["weights"] == first["weights"]
    assert second["id"].startswith("frame-k5-n10-")
    assert str(run / "evaluations" / f"{second['id']}.json") in out.out

    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["test"]["is_samples"], metrics["test"]["examples"]) == (20, 30)  # the strongest leads
    assert [row["k"] for row in metrics["estimators"]] == [1, 10]  # the comparison survives
    kept = metrics["evaluations"]
    assert (kept["strongest"]["k"], kept["strongest"]["examples"]) == (20, 30)
    assert (kept["latest"]["k"], kept["latest"]["examples"]) == (5, 10)
    assert kept["latest"]["test"]["is_samples"] == 5 and kept["sources"]["estimators"] == first["id"]
    assert [entry["id"] for entry in kept["all"]] == [first["id"], second["id"]]
    assert [row["k"] for row in json.loads((run / "estimators.json").read_text())["rows"]] == [1, 10]
    assert {name: (run / name).stat().st_mtime_ns for name in drawn} == drawn  # not drawn again

    # a stronger evaluation with AIS leads now; the comparison of the first is still carried
    assert main(["evaluate", str(run), "-k", "40", "--examples", "10", "--ais-examples", "2",
                 "--ais-chains", "2", "--ais-steps", "3", "--no-progress"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["is_samples"] == 40 and metrics["ais"]["examples"] == 2
    assert [row["k"] for row in metrics["estimators"]] == [1, 10] and len(records(run)) == 3

    capsys.readouterr()
    page = write_report([run], load_run, examples=40, progress=True).read_text()
    assert "report" in capsys.readouterr().err  # the bar, asked for
    cells = r'</td><td class="num">{}</td><td class="num">{}</td>'
    assert re.search(r"<td>latest, also the strongest" + cells.format(40, 10), page)
    assert main(["evaluate", str(run), "-k", "3", "--examples", "12", "--no-progress"]) == 0
    page = write_report([run], load_run, examples=40, progress=False).read_text()
    assert re.search(r"<td>strongest \(largest k\)" + cells.format(40, 10), page)
    assert re.search(r"<td>latest" + cells.format(3, 12), page)
    assert "All evaluations, newest first" in page and 'id="run1-estimators"' in page


def test_a_retrained_model_moves_the_old_files_aside(run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(run), *COMPARE, "--no-progress"]) == 0
    (first,) = records(run)
    old = {name: (run / name).read_bytes() for name in (*PICTURES, *ESTIMATOR_FILES)}
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress", "--no-eval"]) == 0
    capsys.readouterr()
    result = evaluate_run(run, load_trained_model, k=5, examples=10, progress=True, log=lambda line: None)
    assert "log p(x), k = 5" in capsys.readouterr().err  # the bar, asked for

    aside = run / "evaluations" / first["id"]
    assert {name: (aside / name).read_bytes() for name in old} == old  # nothing lost
    assert all((run / name).is_file() for name in PICTURES)  # drawn again, of the new model
    assert not any((run / name).exists() for name in ESTIMATOR_FILES)  # the old model's comparison
    assert result["moved"][str(run / "samples.png")] == str(aside / "samples.png")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["is_samples"] == 5 and "estimators" not in metrics  # the new model's numbers
    earlier, now = metrics["evaluations"]["all"]
    assert earlier["id"] == first["id"] and earlier["current_weights"] is False
    assert "current_weights" not in now
    assert records(run)[0]["results"]["test"]["is_samples"] == 20


def test_an_unreadable_metrics_json_is_moved_aside_and_the_move_is_printed(
        run: Path, capsys: pytest.CaptureFixture) -> None:
    (run / "metrics.json").write_text("{ half a file")
    assert main(["evaluate", str(run), "-k", "5", "--examples", "10", "--no-progress"]) == 0
    aside = run / "evaluations" / "unowned" / "metrics.json"
    assert aside.read_text() == "{ half a file"  # nothing lost
    out = capsys.readouterr().out
    assert f"{run / 'metrics.json'} -> {aside}" in out
    (record,) = records(run)
    assert record["files"]["moved"] == {"metrics.json": "evaluations/unowned/metrics.json"}


@pytest.mark.parametrize("written_after_training", [True, False])
def test_an_old_run_folder_is_imported_first(run: Path, written_after_training: bool) -> None:
    estimate = {"mean": -200.0, "stderr": 1.0, "n": 40}
    old = {"dataset": "mnist-5k", "likelihood": "bernoulli",
           "test": {"examples": 40, "is_samples": 1000, "elbo": estimate, "log_px_is": estimate},
           "estimators": [{"k": 1, "prior_mean": -300.0, "prior_stderr": 1.0, "is_mean": -210.0,
                           "is_stderr": 1.0}]}
    (run / "metrics.json").write_text(json.dumps(old))
    (run / "samples.png").write_bytes(b"drawn by an older vaelab")
    if not written_after_training:
        os.utime(run / "metrics.json", (1e9, 1e9))
        os.utime(run / "samples.png", (1e9, 1e9))

    # the old folder reports as it is
    table = next(b for b in final_metrics(load_context(run, load_run, examples=40)).blocks
                 if isinstance(b, Table) and b.header[0] == "evaluation")
    assert table.rows[0][:3] == ("the saved evaluation", "1000", "40")

    assert main(["evaluate", str(run), "-k", "5", "--examples", "10", "--no-progress"]) == 0
    imported, new = records(run)
    assert imported["imported_from"] == "metrics.json" and imported["results"] == old
    assert (imported["settings"]["k"], imported["settings"]["examples"]) == (1000, 40)
    metrics = json.loads((run / "metrics.json").read_text())
    aside = run / "evaluations" / imported["id"] / "samples.png"
    if written_after_training:  # of these weights: it stays the strongest, its picture stays
        assert metrics["test"] == old["test"] and metrics["estimators"] == old["estimators"]
        assert (run / "samples.png").read_bytes() == b"drawn by an older vaelab" and not aside.exists()
    else:  # of an earlier model: kept aside, the new evaluation leads
        assert metrics["test"]["is_samples"] == 5 and "estimators" not in metrics
        assert aside.read_bytes() == b"drawn by an older vaelab"
    assert metrics["evaluations"]["latest"]["id"] == new["id"]


def test_progress_bars_only_when_asked_or_on_a_terminal(capsys: pytest.CaptureFixture) -> None:
    model = LinearGaussianModel(5, 2)
    x = torch.randn(7, 5)
    held_out_metrics(model, x, k=3, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "log p(x), k = 3" in err and "21/21" in err  # images × samples
    held_out_metrics(model, x, k=3, progress=False)
    held_out_metrics(model, x, k=3)  # default: a bar only when stderr is a terminal
    assert capsys.readouterr().err == ""
    compare_estimators(model, x, ks=(1, 4), progress=True)
    assert "70/70" in capsys.readouterr().err  # both estimators, every k
    ais_metrics(model, x[:2], chains=2, steps=3, is_samples=4, progress=True)
    err = capsys.readouterr().err
    assert "AIS, 2 chains" in err and "6/6" in err and "8/8" in err


def test_evaluate_gaps_splits_the_inference_gap_and_keeps_it(run: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(run), "-k", "30", "--examples", "10", "--gaps", "4", "--gap-steps",
                 "30", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "approximation gap" in out and "amortization gap" in out
    (record,) = records(run)
    gaps = record["results"]["gaps"]
    assert gaps["examples"] == 4 and gaps["settings"]["steps"] == 30
    assert record["settings"]["gaps"] == {"examples": 4, "steps": 30, "is_samples": 30}
    assert "gaps" in record["settings"]["estimators"]
    assert main(["evaluate", str(run), "--gaps", "1"]) == 2
    assert "--gaps must be >= 2" in capsys.readouterr().err


def test_evaluate_gaps_with_a_flow_fitted_per_image(run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(run), "-k", "30", "--examples", "10", "--gaps", "3", "--gap-steps",
                 "20", "--gap-flow", "planar:2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "L[q*_flow]" in out and "of which the flow" in out
    (record,) = records(run)
    gaps = record["results"]["gaps"]
    assert gaps["settings"]["flow"] == "planar:2" and "flow_recovers" in gaps
    assert record["settings"]["gaps"]["flow"] == "planar:2"
    for bad, message in ((["--gap-flow", "radial:2", "--gaps", "3"], "unknown flow family"),
                         (["--gap-flow", "planar:0", "--gaps", "3"], "integer >= 1"),
                         (["--gap-flow", "planar:2"], "--gap-flow applies to --gaps N")):
        assert main(["evaluate", str(run), *bad]) == 2
        assert message in capsys.readouterr().err
