"""Evaluate a finished sequence-model run: evidence, probe, prediction, constants, pictures.

Each evaluation is kept in RUN/evaluations/ and merged into metrics.json; pictures are drawn
once per model (see `vaelab.runs.evaluations`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vaelab.choices import EVALUATION_SEED
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
from vaelab.runs.evaluations import (
    SEQUENCE,
    RunEvaluations,
    finish,
    weights_fingerprint,
)
from vaelab.runs.loader import RunLoader
from vaelab.runs.log import print_now

if TYPE_CHECKING:  # the sequence kind's config, for annotations only (kinds sit above this layer)
    from vaelab.kinds.ssm_experiment import SequenceExperiment

PREDICTIONS_PNG, PREDICTIONS_GIF = "predictions.png", "predictions.gif"
RECONSTRUCTIONS_PNG = "reconstructions.png"
SEQUENCE_PICTURES = (PREDICTIONS_PNG, PREDICTIONS_GIF, RECONSTRUCTIONS_PNG)


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
    progress: bool | None = None,
) -> dict[str, Any]:
    """All the numbers of one model on the test split (first `sequences` for the IWAE_k evidence;
    every test sequence for the probe and the prediction scores); `progress`: bars on stderr
    (None: only when stderr is a terminal)."""
    train, test = splits["train"], splits["test"]
    started = time.perf_counter()
    n = len(test) if sequences <= 0 else min(sequences, len(test))
    log(f"evidence: ELBO, IWAE_{k} and SMC_{k} on {n} test sequences of {test.length} frames ...")
    evidence = sequence_evidence(model, test, k, n, seed=seed, progress=progress)
    metrics: dict[str, Any] = {
        "dataset": config.data.dataset,
        "transition": config.model.transition,
        "guide": config.model.resolved_guide(),
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
    result = probe(model, train, test, train_sequences=probe_sequences, seed=seed, progress=progress)
    metrics["probe"] = result.as_dict()
    horizon = test.length - context
    log(f"prediction: {context} context frames, {horizon}-step open-loop horizon ...")
    metrics["prediction"] = {"context": context, "horizon": horizon,
                             **prediction_scores(model, test, mean_frame(train), context, horizon,
                                                 progress=progress)}
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
                            count: int = 6, names: Collection[str] | None = None) -> list[Path]:
    """predictions.png / predictions.gif (truth above prediction after `context` frames) and
    reconstructions.png (truth above the filtered reconstruction); only those in `names`, when given."""
    device = next(model.parameters()).device
    part = test.subset(slice(0, min(count, len(test))))
    batch = batch_of(part, model.data_kind, device=device)
    truth = part.frames.float() / 255.0
    paths = []
    if names is None or PREDICTIONS_PNG in names or PREDICTIONS_GIF in names:
        predicted, _ = predict(model, batch, context)
        shown = torch.cat([truth[:, :context], to_unit(model, predicted).cpu()], 1)
        rows = [r for i in range(len(part)) for r in (truth[i], shown[i])]
        if names is None or PREDICTIONS_PNG in names:
            paths.append(save_strips(rows, run_dir / PREDICTIONS_PNG, every=2))
        if names is None or PREDICTIONS_GIF in names:
            paths.append(save_animation(rows, run_dir / PREDICTIONS_GIF))
    if names is None or RECONSTRUCTIONS_PNG in names:
        recon = to_unit(model, reconstruct(model, batch)).cpu()
        half = test.length // 2
        rows = [r for i in range(len(part)) for r in (truth[i, :half], recon[i, :half])]
        paths.append(save_strips(rows, run_dir / RECONSTRUCTIONS_PNG))
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
    load: RunLoader,
    k: int = 100,
    sequences: int = 100,
    context: int = 10,
    device: str = "cpu",
    seed: int = EVALUATION_SEED,
    log: Callable[[str], None] = print_now,
    progress: bool | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Evaluate a run folder: keep the numbers as RUN/evaluations/<id>.json, merge them into
    metrics.json, draw the pictures the run lacks for this model (see `vaelab.runs.evaluations`).
    Returns the numbers with "evaluation", "files", "kept" and "moved". `data_dir`: the folder of
    the simulated data instead of the run's own. `load`: the kind's loader (see
    `vaelab.runs.loader`)."""
    run_dir = Path(run_dir)
    model, config, splits = load(run_dir, device=device, data_dir=data_dir)
    metrics = evaluate_sequence_model(model, config, splits, k, sequences, context, seed=seed, log=log,
                                      progress=progress)
    test = metrics["test"]
    settings = {"k": k, "examples": test["sequences"], "sequences_asked": sequences, "context": context,
                "seed": seed, "estimators": ["sequential_elbo", "iwae", "smc"], "device": device}
    store = RunEvaluations(run_dir, SEQUENCE)
    weights = weights_fingerprint(model)
    stamps = dict.fromkeys(SEQUENCE_PICTURES, f"{weights}/context={context}")
    evaluation = store.begin(settings, weights, stamps)
    draw = store.keep_or_move(evaluation, stamps)
    paths = write_sequence_pictures(model, splits["test"], run_dir, context, names=draw)
    evaluation.drawn.update({p.name: stamps[p.name] for p in paths})
    return finish(store, evaluation, metrics, paths)
