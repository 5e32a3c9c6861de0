"""Model kinds are plug-ins: a kind registered from outside vaelab is driven through the CLI's one
path for train / evaluate / sample, and `vaelab.load` reloads its runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import vaelab
from vaelab import kinds
from vaelab.cli.main import main


@pytest.fixture
def toy_kind() -> Iterator[kinds.ModelKind]:
    kind = kinds.register_kind(kinds.ModelKind(
        "toy", ("toy",), lambda raw: raw.get("kind") == "toy", "tests.kinds.toy_kind",
        "a linear-Gaussian model of random vectors (tests)"))
    yield kind
    kinds.unregister_kind("toy")


def test_a_registered_kind_trains_evaluates_samples_and_loads(toy_kind: kinds.ModelKind, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "toy"
    assert main(["train", "--model", "toy", "--toy-examples", "32", "--epochs", "2",
                 "--run-dir", str(run)]) == 0
    assert "toy trained 2 epochs" in capsys.readouterr().out
    assert kinds.kind_of_run(run) is toy_kind
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0
    assert "toy trained 3 epochs" in capsys.readouterr().out
    assert main(["evaluate", str(run), "-k", "20"]) == 0
    assert "toy log p(x)" in capsys.readouterr().out
    assert main(["sample", str(run), "-n", "5"]) == 0
    assert "toy samples (5, 4)" in capsys.readouterr().out
    assert isinstance(vaelab.load(run), vaelab.LinearGaussianModel)


def test_the_built_in_kinds_claim_their_runs_and_names() -> None:
    assert {"vae", "ssm", "m2", "m1m2"} <= set(kinds.model_names())
    assert kinds.kind_of_config({"model": {}, "train": {}}).name == "vae"
    assert kinds.kind_of_config({"kind": "ssm"}).name == "ssm"
    assert kinds.kind_of_config({"semisupervised": {"kind": "m2"}}).name == "semisupervised"
    with pytest.raises(kinds.KindError, match="no registered kind reads runs of kind 'nope'"):
        kinds.kind_of_config({"kind": "nope"})
    with pytest.raises(kinds.KindError, match="not a registered kind"):
        kinds.kind_for_model("nope")
    with pytest.raises(kinds.KindError, match="already belong to kind 'ssm'"):
        kinds.register_kind(kinds.ModelKind("clash", ("ssm",), lambda raw: False, "x"))


def test_unknown_run_kinds_and_non_runs_are_one_clear_error(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"kind": "martian"}))
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no registered kind reads runs of kind 'martian'" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "missing")]) == 2
    assert "missing does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["sample", str(tmp_path / "empty")]) == 2
    assert "not a vaelab run folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["evaluate"], ["report"], ["sample"], ["reconstruct", "--out", "x.png"]])
def test_a_vaelab_fit_run_is_explained_not_misread_by_the_cli(command: list[str], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    # what vaelab.fit writes: the model is the user's own, so only their code can rebuild it
    (tmp_path / "config.json").write_text(json.dumps({"kind": "custom", "model_class": "MyVAE"}))
    assert main([command[0], str(tmp_path), *command[1:]]) == 2
    error = capsys.readouterr().err
    assert "a model you built (MyVAE) with vaelab.fit" in error and "vaelab.load_weights" in error
