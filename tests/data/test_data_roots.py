"""Search order of the data roots and the location of the download cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vaelab.data import cache_root, data_roots


def test_roots_order_data_dir_env_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VAELAB_DATA", f"{tmp_path / 'env1'}{os.pathsep}{tmp_path / 'env2'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    roots = data_roots(str(tmp_path / "given"))
    assert roots == [
        tmp_path / "given",
        tmp_path / "env1",
        tmp_path / "env2",
        tmp_path / "xdg" / "vaelab",
    ]


def test_cache_defaults_to_home_when_xdg_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_root() == tmp_path / ".cache" / "vaelab"
    assert data_roots(None) == [tmp_path / ".cache" / "vaelab"]


def test_duplicate_roots_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path))
    assert data_roots(str(tmp_path)) == [tmp_path, cache_root()]
