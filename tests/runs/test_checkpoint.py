"""Checkpoints and weight files: readable like any other file of the run folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

from vaelab.atomic_files import FILE_MODE
from vaelab.runs.checkpoint import CheckpointError, load_weights, save_weights


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


def test_weights_of_another_model_are_refused_saying_how_they_differ(tmp_path: Path) -> None:
    path = tmp_path / "model_best.safetensors"
    save_weights(path, nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)))
    with pytest.raises(CheckpointError,
                       match=r"shapes differ: 0.bias \(2,\) in the file, \(4,\) in the model, 0.weight"):
        load_weights(path, nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)))
    with pytest.raises(CheckpointError, match=r"not in the model: 1.bias, 1.weight"):
        load_weights(path, nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(CheckpointError, match=r"missing from the file: 2.bias, 2.weight.*rebuild the model"):
        load_weights(path, nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2), nn.Linear(2, 2)))


def test_a_rebuilt_model_with_lazy_layers_loads_its_weights(tmp_path: Path) -> None:
    trained = nn.Sequential(nn.LazyLinear(2))
    trained(torch.ones(1, 3))  # initialised by a first batch, as when it trained
    save_weights(tmp_path / "w.safetensors", trained)
    rebuilt = nn.Sequential(nn.LazyLinear(2))
    load_weights(tmp_path / "w.safetensors", rebuilt)
    assert torch.equal(rebuilt[0].weight, trained[0].weight)
