"""Evaluate a finished run folder: metrics.json, pictures and the estimator comparison."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from vaelab.data.representation import to_model_space
from vaelab.evaluation.diagnostics import latent_diagnostics
from vaelab.evaluation.estimators import DEFAULT_KS, compare_estimators, format_table
from vaelab.evaluation.metrics import ais_metrics, held_out_metrics
from vaelab.evaluation.plots import plot_estimator_comparison, plot_training_curves, save_image_grid
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import Estimate
from vaelab.training import distributed
from vaelab.training.checkpoint import atomic_write_text
from vaelab.training.experiment import SPLIT_SEED, Splits, load_trained_model
from vaelab.training.loop import print_now, read_metrics

METRICS_JSON = "metrics.json"
ESTIMATORS_JSON = "estimators.json"


def display(model: LatentVariableModel, x: torch.Tensor) -> torch.Tensor:
    """Model-space values as images in [0, 1]."""
    return x / 255.0 if model.data_kind == "byte" else x.clamp(0.0, 1.0)


def held_out_tensor(model: LatentVariableModel, splits: Splits, examples: int,
                device: torch.device) -> torch.Tensor:
    """The first `examples` test images (0 = all) in model space, binarized with a fixed seed."""
    images = splits.test.images if examples <= 0 else splits.test.images[:examples]
    generator = torch.Generator(device=device).manual_seed(SPLIT_SEED + 7)
    return to_model_space(images.to(device), splits.test.binary, model.data_kind, generator)


def write_pictures(model: LatentVariableModel, x_test: torch.Tensor, run_dir: Path,
                   seed: int = 0) -> list[Path]:
    """Sample grid, reconstructions beside inputs, and training curves."""
    generator = torch.Generator(device=x_test.device).manual_seed(seed)
    paths = [save_image_grid(display(model, model.sample(64, generator)), run_dir / "samples.png")]
    originals = x_test[:32]
    recon = model.reconstruct(originals)
    pairs = torch.stack([display(model, originals), display(model, recon)], 1).flatten(0, 1)
    paths.append(save_image_grid(pairs, run_dir / "reconstructions.png", columns=16))
    records = read_metrics(run_dir)
    if records:
        paths.append(plot_training_curves(records, run_dir / "training_curve.png"))
    return paths


def _silent(message: str) -> None:
    """Ranks other than 0 say nothing."""


def evaluate_run(
    run_dir: Path,
    k: int = 1000,
    examples: int = 1000,
    compare: bool = False,
    ks: tuple[int, ...] = DEFAULT_KS,
    compare_examples: int = 100,
    ais_examples: int = 0,
    ais_chains: int = 16,
    ais_steps: int = 500,
    device: str = "auto",
    seed: int = 0,
    log: Callable[[str], None] = print_now,
    bernoulli_shortcut: bool = False,
) -> dict:
    """Compute test metrics (and optionally the estimator comparison); write them to the run.

    `bernoulli_shortcut`: see held_out_metrics (same values to float rounding, faster on a CPU)."""
    run_dir = Path(run_dir)
    torch.manual_seed(seed)
    context = distributed.current()
    if context is not None:  # under torchrun: shard the test set, rank 0 writes the files
        torch.manual_seed(seed + context.rank)
        device = str(context.device)
        if not context.is_main:
            log = _silent
    model, config, splits = load_trained_model(run_dir, device=device)
    dev = next(model.parameters()).device
    x_test = held_out_tensor(model, splits, examples, dev)
    log(f"evaluating on {x_test.shape[0]} test images of {config.data.dataset} with k = {k} ...")
    metrics = {"dataset": config.data.dataset, "likelihood": config.model.likelihood,
               "test": held_out_metrics(model, x_test, k, context=context, log=log,
                                                 bernoulli_shortcut=bernoulli_shortcut)}
    if context is not None and not context.is_main:
        return {**metrics, "files": []}
    metrics["latents"] = latent_diagnostics(model, x_test)
    paths = write_pictures(model, x_test, run_dir, seed)
    if compare:
        x_cmp = x_test[:compare_examples]
        log(f"comparing estimators on {x_cmp.shape[0]} test images, k in {list(ks)} ...")
        rows = compare_estimators(model, x_cmp, ks)
        table = format_table(rows)
        log(table)
        atomic_write_text(run_dir / ESTIMATORS_JSON,
                          json.dumps({"examples": int(x_cmp.shape[0]),
                                      "rows": [r.as_dict() for r in rows]}, indent=2) + "\n")
        (run_dir / "estimators.txt").write_text(table + "\n")
        paths.append(plot_estimator_comparison(rows, run_dir / "estimators.png"))
        metrics["estimators"] = [r.as_dict() for r in rows]
    if ais_examples > 0:
        x_ais = x_test[:ais_examples]
        log(f"AIS ({ais_chains} chains x {ais_steps} steps) vs importance sampling on "
            f"{x_ais.shape[0]} test images ...")
        metrics["ais"] = ais_metrics(model, x_ais, ais_chains, ais_steps, max(k, 1))
        ais = metrics["ais"]
        log(f"  AIS {Estimate(**ais['log_px_ais'])}  IS {Estimate(**ais['log_px_is'])}  "
            f"IS − AIS {Estimate(**ais['is_minus_ais'])} nats")
    atomic_write_text(run_dir / METRICS_JSON, json.dumps(metrics, indent=2) + "\n")
    metrics["files"] = [str(p) for p in [run_dir / METRICS_JSON, *paths]]
    return metrics
