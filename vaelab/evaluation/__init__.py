"""Evaluation and pictures of trained models; the only layer (with reports) using matplotlib."""

from vaelab.evaluation.estimators import DEFAULT_KS, EstimatorRow, compare_estimators, format_table
from vaelab.evaluation.metrics import held_out_metrics
from vaelab.evaluation.run import evaluate_run, write_pictures

__all__ = [
    "DEFAULT_KS",
    "EstimatorRow",
    "compare_estimators",
    "evaluate_run",
    "format_table",
    "held_out_metrics",
    "write_pictures",
]
