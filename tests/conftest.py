"""Shared fixtures: where the verified benchmark data live, and a quiet, seeded torch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The test models are tiny: one thread is as fast, and it keeps the suite from thrashing when
# the machine is shared (OpenMP threads spinning against each other).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test starts from seed 0 and never writes into the user's real cache."""
    torch.manual_seed(0)
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setenv("VAELAB_MIRROR", "file:///nonexistent-vaelab-mirror")


@pytest.fixture
def shared_data() -> Path:
    """The verified MNIST/Fashion/binarized files beside the checkout; skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data folder {SHARED_DATA} not present")
    return SHARED_DATA
