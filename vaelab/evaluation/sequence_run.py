"""Evaluate a finished sequence-model run: evidence, probe, prediction, constants, pictures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vaelab.data.pendulum import SequenceSet
from vaelab.evaluation.sequence_metrics import (
    batch_of,
    constants_from_probe,
    constants_from_truth,
    mean_frame,
    prediction_scores,
    probe,
    sequence_evidence,
    to_unit,
)
from vaelab.evaluation.sequence_plots import save_animation, save_strips
from vaelab.models.ssm import StateSpaceModel
from vaelab.models.ssm_rollout import predict, reconstruct
from vaelab.objectives.result import Estimate
from vaelab.training.checkpoint import atomic_write_text
from vaelab.training.loop import print_now
from vaelab.training.sequence_loop import SequenceExperiment, load_sequence_run

METRICS_JSON = "metrics.json"


def evaluate_sequence_model(
    model: StateSpaceModel,
    config: SequenceExperiment,
    splits: dict[str, SequenceSet],
    k: int = 100,
    sequences: int = 100,
    context: int = 10,
    probe_sequences: int = 500,
    seed: int = 0,
    log: Callable[[str], None] = print_now,
) -> dict[str, Any]:
    """All the numbers of one model on the test split (first `sequences` for the IWAE_k evidence;
    every test sequence for the probe and the prediction scores)."""
    train, test = splits["train"], splits["test"]
    started = time.perf_counter()
    n = len(test) if sequences <= 0 else min(sequences, len(test))
    log(f"evidence: ELBO, IWAE_{k} and SMC_{k} on {n} test sequences of {test.length} frames ...")
    evidence = sequence_evidence(model, test, k, n, seed=seed)
    metrics: dict[str, Any] = {
        "dataset": config.data.dataset,
        "transition": config.model.transition,
        "guide": config.model.guide,
        "likelihood": config.model.likelihood,
        "test": {
            "sequences": n,
            "frames_per_sequence": test.length,
            "iwae_samples": k,
            "elbo_per_frame": Estimate.of(evidence["elbo"] / evidence["frames"]).as_dict(),
            "iwae_per_frame": Estimate.of(evidence["iwae"] / evidence["frames"]).as_dict(),
            "smc_per_frame": Estimate.of(evidence["smc"] / evidence["frames"]).as_dict(),
        },
    }
    log("probe: linear and MLP regressions from filtering means to (sin θ, cos θ, ω) ...")
    result = probe(model, train, test, train_sequences=probe_sequences, seed=seed)
    metrics["probe"] = result.as_dict()
    horizon = test.length - context
    log(f"prediction: {context} context frames, {horizon}-step open-loop horizon ...")
    metrics["prediction"] = {"context": context, "horizon": horizon,
                             **prediction_scores(model, test, mean_frame(train), context, horizon)}
    truth = config.data.pendulum
    metrics["constants"] = {
        "true": {"g_over_L": truth.gravity / truth.length, "damping": truth.damping, "input_gain": 1.0},
        "learned": model.physical_constants(),
        "probe_regression": constants_from_probe(result, test),
        "truth_regression": constants_from_truth(test),
    }
    metrics["seconds"] = time.perf_counter() - started
    return metrics


def write_sequence_pictures(model: StateSpaceModel, test: SequenceSet, run_dir: Path, context: int = 10,
                            count: int = 6) -> list[Path]:
    """predictions.png / predictions.gif (truth above prediction after `context` frames) and
    reconstructions.png (truth above the filtered reconstruction)."""
    device = next(model.parameters()).device
    part = test.subset(slice(0, min(count, len(test))))
    batch = batch_of(part, model.data_kind, device=device)
    predicted, _ = predict(model, batch, context)
    truth = part.frames.float() / 255.0
    shown = torch.cat([truth[:, :context], to_unit(model, predicted).cpu()], 1)
    rows = [r for i in range(len(part)) for r in (truth[i], shown[i])]
    paths = [save_strips(rows, run_dir / "predictions.png", every=2)]
    paths.append(save_animation(rows, run_dir / "predictions.gif"))
    recon = to_unit(model, reconstruct(model, batch)).cpu()
    rows = [r for i in range(len(part)) for r in (truth[i, :test.length // 2], recon[i, :test.length // 2])]
    paths.append(save_strips(rows, run_dir / "reconstructions.png"))
    return paths


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """The headline numbers of `evaluate_sequence_model` as short lines of text."""
    test, probe_r2 = metrics["test"], metrics["probe"]["linear_r2"]
    pred, constants = metrics["prediction"], metrics["constants"]
    lines = [
        f"test (nats/frame, {test['sequences']} sequences): ELBO {test['elbo_per_frame']['mean']:.2f} ± "
        f"{test['elbo_per_frame']['stderr']:.2f}; IWAE_{test['iwae_samples']} "
        f"{test['iwae_per_frame']['mean']:.2f} ± {test['iwae_per_frame']['stderr']:.2f}; particle filter "
        f"(SMC_{test['iwae_samples']}) {test['smc_per_frame']['mean']:.2f} ± "
        f"{test['smc_per_frame']['stderr']:.2f}",
        "probe R² (linear, filtering): " + ", ".join(f"{k} {v:.3f}" for k, v in probe_r2.items()),
        f"valid prediction time ({pred['context']} context, {pred['horizon']} steps): model "
        f"{pred['model']['valid_prediction_time']:.3f}; copy-last "
        f"{pred['copy_last']['valid_prediction_time']:.3f}; mean frame "
        f"{pred['mean_frame']['valid_prediction_time']:.3f}",
    ]
    regression = constants["probe_regression"]
    true, learned = constants["true"], constants["learned"]
    text = f"constants (true g/L {true['g_over_L']:.3f}, b {true['damping']:.3f}): "
    if learned is not None:
        text += f"learned g/L {learned['g_over_L']:.3f}, b {learned['damping']:.3f}; "
    text += f"from probed states g/L {regression['g_over_L']:.3f}, b {regression['damping']:.3f}"
    lines.append(text)
    return lines


def evaluate_sequence_run(
    run_dir: Path | str,
    k: int = 100,
    sequences: int = 100,
    context: int = 10,
    device: str = "cpu",
    seed: int = 0,
    log: Callable[[str], None] = print_now,
) -> dict[str, Any]:
    """Evaluate a run folder; writes metrics.json and the pictures, returns the metrics."""
    run_dir = Path(run_dir)
    model, config, splits = load_sequence_run(run_dir, device=device)
    metrics = evaluate_sequence_model(model, config, splits, k, sequences, context, seed=seed, log=log)
    paths = write_sequence_pictures(model, splits["test"], run_dir, context)
    atomic_write_text(run_dir / METRICS_JSON, json.dumps(metrics, indent=2) + "\n")
    metrics["files"] = [str(p) for p in [run_dir / METRICS_JSON, *paths]]
    return metrics
