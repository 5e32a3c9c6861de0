"""A tiny experiment on the embedded MNIST subset: seconds to train on two cores."""

from __future__ import annotations

from vaelab.training import ExperimentConfig


def tiny_config(**train: object) -> ExperimentConfig:
    settings = {"epochs": 2, "batch_size": 64, "eval_samples": 10, "eval_examples": 50}
    settings.update(train)
    return ExperimentConfig().with_overrides({
        "model": {"latent_dim": 4, "hidden": (32,)},
        "data": {"dataset": "mnist-5k", "train_limit": 256, "validation_size": 100},
        "train": settings,
    })
