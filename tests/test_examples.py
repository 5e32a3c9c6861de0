"""Every script in examples/ runs end to end on a tiny budget (as a user would run it)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested() -> None:
    tested = {"conv_fashion_mnist", "heavy_tailed_prior", "pendulum_from_python"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.slow
def test_conv_fashion_mnist(shared_data: Path, tmp_path: Path) -> None:
    out = example("conv_fashion_mnist").main(
        ["--data-dir", str(shared_data), "--epochs", "1", "--train", "256", "--test", "16", "-k", "5",
         "--out", str(tmp_path / "run")])
    assert len(out["history"]) == 1 and out["test"]["examples"] == 16
    assert math.isfinite(out["test"]["log_px_is"]["mean"])
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.slow
def test_heavy_tailed_prior_is_compared_by_is_and_ais(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = example("heavy_tailed_prior").main(
        ["--epochs", "1", "--train", "200", "--test", "10", "--ais", "2", "-k", "10", "--latent-dim", "4",
         "--out", str(tmp_path)])
    assert set(results) == {"normal", "student-t"}
    for result in results.values():
        assert result["log_px_is"]["n"] == 10 and result["ais"]["log_px_ais"]["n"] == 2
    printed = capsys.readouterr().out
    assert "evidence for the Student-t prior" in printed
    assert printed.startswith("normal prior: training 1 epochs on 200 digits") and "  epoch 1/1" in printed


@pytest.mark.slow
def test_pendulum_from_python(tmp_path: Path) -> None:
    out = example("pendulum_from_python").main(
        ["--epochs", "1", "--sequences", "8", "--length", "10", "--image-size", "16",
         "--out", str(tmp_path / "run")])
    assert len(out["history"]) == 1 and "g_over_L" in out["constants"]
    assert math.isfinite(out["evidence"]["smc_per_frame"]["mean"])
    assert set(out["prediction"]) == {"model", "copy_last", "mean_frame"}
