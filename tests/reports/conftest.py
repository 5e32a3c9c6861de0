"""Tiny finished runs shared by the report tests: trained once per session, seconds each."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaelab.cli.main import main
from vaelab.kinds import load_run
from vaelab.reports import RunContext, load_context, write_report

TINY = ["--dataset", "mnist-5k", "--train-limit", "256", "--validation-size", "100",
        "--hidden", "32", "--batch-size", "64", "--eval-samples", "10", "--eval-examples", "40",
        "--no-progress"]
#: test images the report tests use for latent statistics (small: fast)
EXAMPLES = 100


@pytest.fixture(scope="session")
def run_2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-D latent run with metrics.json and estimators.json; trained just enough (16 steps at
    a high learning rate) for both latent dimensions to be active."""
    run = tmp_path_factory.mktemp("runs") / "latent2"
    assert main(["train", *TINY, "--latent-dim", "2", "--epochs", "2", "--batch-size", "32",
                 "--lr", "3e-3", "--no-eval", "--run-dir", str(run)]) == 0
    assert main(["evaluate", str(run), "-k", "10", "--examples", "40", "--compare-estimators",
                 "--ks", "1,10", "--compare-examples", "8"]) == 0
    return run


@pytest.fixture(scope="session")
def run_4d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-D latent run, one epoch, evaluated but without an estimator comparison."""
    run = tmp_path_factory.mktemp("runs") / "latent4"
    assert main(["train", *TINY, "--latent-dim", "4", "--epochs", "1", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture(scope="session")
def context_2d(run_2d: Path) -> RunContext:
    return load_context(run_2d, load_run, examples=EXAMPLES)


@pytest.fixture(scope="session")
def report_2d(run_2d: Path) -> Path:
    """The written report of the 2-D run (in its own folder, as `vaelab report` writes it)."""
    return write_report([run_2d], load_run, examples=EXAMPLES)
