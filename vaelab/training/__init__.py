"""Training: configs, the loop, checkpoints. Knows no specific model."""

from vaelab.training.checkpoint import (
    BEST_WEIGHTS,
    CHECKPOINT,
    CONFIG,
    CheckpointError,
    LoopState,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from vaelab.training.config import ConfigError, DataConfig, ExperimentConfig, TrainConfig
from vaelab.training.loop import METRICS, NonFiniteLossError, fit, kl_weight_at, read_metrics

__all__ = [
    "BEST_WEIGHTS",
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "LoopState",
    "NonFiniteLossError",
    "TrainConfig",
    "fit",
    "kl_weight_at",
    "load_checkpoint",
    "load_weights",
    "read_metrics",
    "save_checkpoint",
]
