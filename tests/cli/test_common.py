"""Shared CLI pieces: run-folder names never collide; --npy writes only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vaelab.cli.common import default_run_dir, print_run_folder, save_npy


def test_default_run_dir_is_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = default_run_dir("some/dir/pendulum")
    assert first.parent == Path("runs") and first.name.startswith("pendulum-")
    first.mkdir(parents=True)
    second = default_run_dir("pendulum")
    assert second != first and second.name.endswith("-2")


def test_print_run_folder_and_save_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_npy(None, np.zeros(2))
    save_npy(tmp_path / "a.npy", np.arange(3))
    print_run_folder(tmp_path)
    out = capsys.readouterr().out
    assert np.load(tmp_path / "a.npy").tolist() == [0, 1, 2]
    assert f"run folder: {tmp_path.resolve()}" in out and "  a.npy" in out
