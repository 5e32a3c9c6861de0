"""The files of a run folder, by name.

Light on purpose (no torch): configs and the command line name these files too. Writing them so
that a crash never leaves a torn one is `vaelab.atomic_files`'s job.
"""

from __future__ import annotations

CHECKPOINT = "checkpoint.safetensors"
"""A run's last checkpoint: weights, optimiser and loop state (resumable)."""
BEST_WEIGHTS = "model_best.safetensors"
"""A run's weights of its best validation epoch (what evaluation loads)."""
CONFIG = "config.json"
"""A run's full experiment config, enough to rebuild its model."""
METRICS = "metrics.jsonl"
"""The training log: one JSON record per epoch (see `vaelab.runs.metrics_log`)."""
#: a semi-supervised run's labelled subset (which training images keep their labels)
LABELLED_JSON = "labelled.json"
#: a semi-supervised run's temperature, fitted on its validation labels (`--calibrate`)
CALIBRATION_JSON = "calibration.json"
