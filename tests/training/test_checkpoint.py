"""Checkpoints and weight files: readable like any other file of the run folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import torch
from torch import nn

from vaelab.atomic_files import FILE_MODE
from vaelab.training.checkpoint import load_weights, save_weights


def test_weight_files_get_the_permissions_of_the_run_folders_other_files(tmp_path: Path) -> None:
    # safetensors writes its file private (0600); a run folder shared with a group must not be
    path = tmp_path / "model_best.safetensors"
    model = nn.Linear(3, 2)
    save_weights(path, model)
    save_weights(path, model)  # and again over an existing file
    assert stat.S_IMODE(os.stat(path).st_mode) == FILE_MODE
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    copy = nn.Linear(3, 2)
    load_weights(path, copy)
    assert torch.equal(copy.weight, model.weight) and torch.equal(copy.bias, model.bias)
