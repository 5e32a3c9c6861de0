"""A run and its folder: the files training writes and evaluation and reports read.

RUN/config.json, metrics.jsonl (the training log), checkpoint.safetensors and
model_best.safetensors, the evaluations kept under RUN/evaluations/ with metrics.json as their
merged view, and the processes of a run under torch.distributed. Below training and evaluation,
which both read and write run folders through here and never through each other. Public names
load on first use (the file names need no torch).
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
    "load_run_weights": "vaelab.runs.checkpoint",
    "load_weights": "vaelab.runs.checkpoint",
    "save_checkpoint": "vaelab.runs.checkpoint",
    "save_weights": "vaelab.runs.checkpoint",
    "read_metrics": "vaelab.runs.metrics_log",
    "METRICS_JSON": "vaelab.runs.evaluations",
    "RunEvaluations": "vaelab.runs.evaluations",
    "RunLoader": "vaelab.runs.loader",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
