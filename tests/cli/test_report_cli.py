"""`vaelab report`, `vaelab reconstruct`, `vaelab sample --grid` and `train --tensorboard`,
smoke-run on a tiny run; every mistake ends in one line and exit status 2."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from vaelab.cli.main import main

TINY = ["--dataset", "mnist-5k", "--train-limit", "256", "--validation-size", "100",
        "--latent-dim", "3", "--hidden", "32", "--batch-size", "64", "--eval-samples", "10",
        "--eval-examples", "40", "--no-progress", "--epochs", "2"]
PITCH = 28 + 2  # one MNIST image and the grid's padding, in pixels before the ×3 zoom


def grid_size(columns: int, rows: int, zoom: int = 3) -> tuple[int, int]:
    """(width, height) of a saved image grid of 28×28 images."""
    return (columns * PITCH + 2) * zoom, (rows * PITCH + 2) * zoom


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--run-dir", str(path)]) == 0
    return path


@pytest.mark.slow
def test_report_writes_one_html_file_into_the_run(run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(run), "--examples", "40"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'report.html'}"
    page = (run / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="run1-latent-space"' in page
    assert 'id="run1-estimators"' not in page and 'id="run1-manifold"' not in page
    # two runs without --out: a comparison page beside the first run's own report, not over it
    other = run.parent / "other"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("report.html"))
    assert main(["report", str(run), str(other), "--examples", "40"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'compare-other.html'}"
    assert (run / "report.html").read_text() == page


def test_reconstruct_and_sample_grid_write_pngs_of_the_expected_size(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "recon.png"
    assert main(["reconstruct", str(run), "-n", "8", "--out", str(out)]) == 0
    with Image.open(out) as image:  # 8 inputs + 8 reconstructions in one row of 16
        assert image.size == grid_size(16, 1)
    assert main(["reconstruct", str(run), "-n", "6", "--columns", "4"]) == 0
    with Image.open(run / "reconstructions-6.png") as image:
        assert image.size == grid_size(4, 3)
    out = tmp_path / "samples.png"
    assert main(["sample", str(run), "--grid", "-n", "10", "--columns", "5", "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == grid_size(5, 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["report", "{tmp}"], "not a vaelab run folder"),
     (["report", "{tmp}/missing"], "missing does not exist"),
     (["report", "{run}", "{tmp}"], "not a vaelab run folder"),
     (["report", "{run}", "--out", "{tmp}/no/such/folder/r.html"], "does not exist"),
     (["report", "{run}", "--examples", "1"], "--examples"),
     (["reconstruct", "{tmp}"], "not a vaelab run folder"),
     (["reconstruct", "{run}", "-n", "0"], "--num"),
     (["reconstruct", "{run}", "-n", "5000"], "only 1000"),
     (["sample", "{run}", "--grid", "--columns", "0"], "--columns")],
)
def test_mistakes_end_in_one_line_and_exit_2(argv: list[str], message: str, run: Path,
                                             tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main([a.format(run=run, tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("vaelab: error: ") and err.count("\n") == 1 and message in err


def test_help_reads_for_a_newcomer(capsys: pytest.CaptureFixture) -> None:
    for command in ("report", "reconstruct"):
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        text = capsys.readouterr().out
        assert "run folder written by `vaelab train`" in text and "example" in text
        assert "(default: None)" not in text


def test_tensorboard_logs_without_changing_training(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is an optional extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = tmp_path / "logged"
    assert main(["train", *TINY, "--no-eval", "--tensorboard", "--run-dir", str(logged)]) == 0
    events = EventAccumulator(str(logged / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    assert {"bound/train", "bound/validation", "terms/kl", "terms/reconstruction",
            "optimizer/learning_rate"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("bound/validation")] == [1, 2]
    assert set(tags["images"]) == {"samples", "reconstructions"}

    def records(path: Path) -> list[dict]:
        rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert records(logged) == records(run)  # the callback leaves the model and RNG alone


def test_tensorboard_missing_is_a_clear_error_before_training(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    target = tmp_path / "r"
    assert main(["train", *TINY, "--tensorboard", "--run-dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaelab: error: --tensorboard") and "pip install tensorboard" in err
    assert err.count("\n") == 1 and not target.exists()


@pytest.mark.slow
def test_a_run_that_lost_its_best_weights_says_the_last_checkpoint_stands_in(
        run: Path, tmp_path: Path) -> None:
    import subprocess

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    (copy / "model_best.safetensors").unlink()
    done = subprocess.run([sys.executable, "-m", "vaelab", "sample", str(copy), "-n", "4"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("vaelab: warning:")]
    assert warned == [f"vaelab: warning: {copy} has no model_best.safetensors (the best epoch's weights): "
                      "using the last checkpoint's weights instead"]
