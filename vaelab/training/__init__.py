"""Training: configs, the loop. Knows no specific model.

Checkpoints, run-folder files and the training log belong to `vaelab.runs`; their names are
exported here too, as before.
"""

from __future__ import annotations

from vaelab._lazy import lazy_exports

#: public name -> module that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "BEST_WEIGHTS": "vaelab.runs.files",
    "CHECKPOINT": "vaelab.runs.files",
    "CONFIG": "vaelab.runs.files",
    "METRICS": "vaelab.runs.files",
    "CheckpointError": "vaelab.runs.checkpoint",
    "LoopState": "vaelab.runs.checkpoint",
    "load_checkpoint": "vaelab.runs.checkpoint",
    "load_weights": "vaelab.runs.checkpoint",
    "save_checkpoint": "vaelab.runs.checkpoint",
    "read_metrics": "vaelab.runs.metrics_log",
    "ConfigError": "vaelab.training.config",
    "DataConfig": "vaelab.training.config",
    "ExperimentConfig": "vaelab.training.config",
    "TrainConfig": "vaelab.training.config",
    "NonFiniteLossError": "vaelab.training.loop",
    "fit": "vaelab.training.loop",
    "kl_weight_at": "vaelab.training.loop",
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
