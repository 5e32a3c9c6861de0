"""Fixtures for the data-layer tests: an isolated cache, no network, the shared benchmark files."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"


def _no_network(*args: object, **kwargs: object) -> None:
    raise OSError("network access is disabled in the data tests")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and XDG_CACHE_HOME at a temp folder, clear vaelab variables, block sockets."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.delenv("VAELAB_MIRROR", raising=False)
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    return home


def _shared(name: str) -> Path:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"shared benchmark data not found at {folder}")
    return folder


@pytest.fixture
def shared_data() -> Path:
    """The shared data root (holding mnist/, fashion_mnist/, binarized_mnist/), or skip."""
    return _shared("")


@pytest.fixture
def shared_mnist() -> Path:
    """shared/data/mnist with the four MNIST .gz files, or skip."""
    return _shared("mnist")


@pytest.fixture
def shared_fashion() -> Path:
    """shared/data/fashion_mnist with the four Fashion-MNIST .gz files, or skip."""
    return _shared("fashion_mnist")


@pytest.fixture
def shared_binarized() -> Path:
    """shared/data/binarized_mnist with the three .amat.gz files, or skip."""
    return _shared("binarized_mnist")
