"""Shared CLI pieces: run-folder names never collide; --npy writes only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vaelab.kinds.common import print_run_folder, save_npy
from vaelab.training import run_folder
from vaelab.training.config_files import ConfigError
from vaelab.training.run_folder import default_run_dir


def test_default_run_dir_is_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = default_run_dir("some/dir/pendulum")
    assert first.parent == Path("runs") and first.name.startswith("pendulum-")
    first.mkdir(parents=True)
    second = default_run_dir("pendulum")
    assert second != first and second.name.endswith("-2")


def test_under_torchrun_every_rank_gets_the_same_folder_and_a_restart_its_old_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "4f1c")
    monkeypatch.setattr(run_folder, "_JOB_FOLDERS", {})  # a fresh process
    first = default_run_dir("mnist")
    first.mkdir(parents=True)
    assert first == Path("runs") / "mnist-job-4f1c"
    # a second run in the same job (e.g. two vaelab.fit calls) gets a folder of its own ...
    assert default_run_dir("mnist") == Path("runs") / "mnist-job-4f1c-2"
    # ... and a restarted job (a new process) finds both again, in the same order
    monkeypatch.setattr(run_folder, "_JOB_FOLDERS", {})
    assert [default_run_dir("mnist") for _ in range(2)] == [first, Path("runs") / "mnist-job-4f1c-2"]
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")  # torchrun without --standalone or --rdzv-id
    with pytest.raises(ConfigError, match="--run-dir"):
        default_run_dir("mnist")


def test_print_run_folder_and_save_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_npy(None, np.zeros(2))
    save_npy(tmp_path / "a.npy", np.arange(3))
    print_run_folder(tmp_path)
    out = capsys.readouterr().out
    assert np.load(tmp_path / "a.npy").tolist() == [0, 1, 2]
    assert f"run folder: {tmp_path.resolve()}" in out and "  a.npy" in out
