"""The files of a run folder, by name.

Light on purpose (no torch): configs and the command line name these files too. Writing them so
that a crash never leaves a torn one is `vaelab.atomic_files`'s job.
"""

from __future__ import annotations

CHECKPOINT = "checkpoint.safetensors"
BEST_WEIGHTS = "model_best.safetensors"
CONFIG = "config.json"
#: the training log: one JSON record per epoch (see `vaelab.runs.metrics_log`)
METRICS = "metrics.jsonl"
#: a semi-supervised run's labelled subset (which training images keep their labels)
LABELLED_JSON = "labelled.json"
#: a semi-supervised run's temperature, fitted on its validation labels (`--calibrate`)
CALIBRATION_JSON = "calibration.json"
