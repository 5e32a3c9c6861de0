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


def install_toy_kind_package(site: Path) -> None:
    """A package of its own, as `pip install` leaves it: the toy kind's module, a light module
    naming its ModelKind, and the dist-info whose entry point declares it to vaelab."""
    package = site / "toy_vaelab_kind"
    package.mkdir(parents=True)
    (package / "kind.py").write_text((Path(__file__).parent / "toy_kind.py").read_text())
    (package / "__init__.py").write_text(
        "from vaelab.kinds import ModelKind\n\n"
        "KIND = ModelKind('toy', ('toy',), lambda raw: raw.get('kind') == 'toy', 'toy_vaelab_kind.kind',\n"
        "                 'a linear-Gaussian model of random vectors (an installed package)')\n")
    info = site / "toy_vaelab_kind-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-vaelab-kind\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vaelab.kinds]\ntoy = toy_vaelab_kind:KIND\n")


@pytest.mark.slow
def test_a_kind_installed_by_another_package_works_from_the_vaelab_command(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    install_toy_kind_package(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *sys.path])}
    run = tmp_path / "runs" / "toy"

    def vaelab_command(*argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "vaelab", *argv], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "toy (--model toy)" in vaelab_command("train", "--help")
    assert "toy trained 2 epochs" in vaelab_command("train", "--model", "toy", "--toy-examples", "32",
                                                    "--epochs", "2", "--out", str(run))
    assert "toy log p(x)" in vaelab_command("evaluate", str(run), "-k", "20")
    assert "toy samples (5, 4)" in vaelab_command("sample", str(run), "-n", "5")
    assert f"wrote {run / 'report.html'}" in vaelab_command("report", str(run))
    assert (run / "report.html").is_file()


def test_a_broken_entry_point_is_skipped_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    from importlib import metadata

    broken = metadata.EntryPoint("martian", "no_such_package.kind:KIND", kinds.ENTRY_POINT_GROUP)
    monkeypatch.setattr(kinds.metadata, "entry_points", lambda group: [broken])
    monkeypatch.setattr(kinds, "_ENTRY_POINTS_READ", False)
    assert "vae" in kinds.model_names()  # vaelab goes on
    err = capsys.readouterr().err
    assert err.startswith("vaelab: warning: skipped the kind 'martian' of entry point "
                          "'no_such_package.kind:KIND' (vaelab.kinds): No module named")
    assert err.count("\n") == 1


def test_a_command_a_kind_lacks_names_the_kinds_that_have_it(toy_kind: kinds.ModelKind) -> None:
    with pytest.raises(kinds.KindError, match=r"`vaelab predict` does not apply to runs of kind 'toy' "
                                              r"\(--model toy\); it is for --model ssm"):
        kinds.command_of(toy_kind, "predict")
    assert kinds.command_of(toy_kind, "report") is toy_kind.module().report
