"""Tiny trained runs for the explorer's tests: an image VAE and a pendulum state-space model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaelab.cli.main import main

TINY_PENDULUM = {"train_sequences": 16, "train_length": 12, "valid_sequences": 4, "valid_length": 12,
                 "test_sequences": 4, "test_length": 24, "image_size": 16}
TINY_SSM = {"encoder_hidden": [16, 8], "rnn_hidden": 8, "combiner_hidden": 8, "decoder_hidden": [16],
            "transition_hidden": 8}


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("explore") / "vae"
    assert main(["train", "--dataset", "mnist-5k", "--train-limit", "256", "--epochs", "1", "--hidden", "32",
                 "--latent-dim", "3", "--no-eval", "--no-progress", "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="session")
def sequence_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("explore-ssm")
    config = folder / "ssm.json"
    config.write_text(json.dumps({"model": TINY_SSM, "data": {"data_dir": str(folder / "data"),
                                                              "pendulum": TINY_PENDULUM},
                                  "train": {"batch_size": 8}}))
    run = folder / "ssm"
    assert main(["train", "--model", "ssm", "--config", str(config), "--epochs", "1", "--no-eval",
                 "--no-progress", "--out", str(run)]) == 0
    return run
