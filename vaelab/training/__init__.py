"""Training: configs, the loop, checkpoints. Knows no specific model."""

from __future__ import annotations

from vaelab._lazy import lazy_exports

#: public name -> module that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "BEST_WEIGHTS": "vaelab.training.checkpoint",
    "CHECKPOINT": "vaelab.training.checkpoint",
    "CONFIG": "vaelab.training.checkpoint",
    "CheckpointError": "vaelab.training.checkpoint",
    "LoopState": "vaelab.training.checkpoint",
    "load_checkpoint": "vaelab.training.checkpoint",
    "load_weights": "vaelab.training.checkpoint",
    "save_checkpoint": "vaelab.training.checkpoint",
    "ConfigError": "vaelab.training.config",
    "DataConfig": "vaelab.training.config",
    "ExperimentConfig": "vaelab.training.config",
    "TrainConfig": "vaelab.training.config",
    "METRICS": "vaelab.training.loop",
    "NonFiniteLossError": "vaelab.training.loop",
    "fit": "vaelab.training.loop",
    "kl_weight_at": "vaelab.training.loop",
    "read_metrics": "vaelab.training.loop",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
