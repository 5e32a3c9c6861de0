"""Evaluate a finished run folder: metrics.json, pictures and the estimator comparison.

Each evaluation is kept in RUN/evaluations/ and merged into metrics.json; pictures are drawn
once per model (see `vaelab.runs.evaluations`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path

import torch

from vaelab.atomic_files import atomic_write_text
from vaelab.choices import EVALUATION_SEED
from vaelab.data.imageset import ImageSet
from vaelab.data.representation import to_model_space
from vaelab.data.splits import SPLIT_SEED, Splits
from vaelab.evaluation.bdmc import DEFAULT_BDMC_STEPS, bdmc, check_bdmc_settings, format_bdmc
from vaelab.evaluation.diagnostics import latent_diagnostics
from vaelab.evaluation.estimators import DEFAULT_KS, compare_estimators, format_table
from vaelab.evaluation.gaps import gap_lines, inference_gaps
from vaelab.evaluation.metrics import ais_metrics, held_out_metrics
from vaelab.evaluation.plots import plot_estimator_comparison, plot_training_curves, save_image_grid
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import Estimate
from vaelab.runs import distributed
from vaelab.runs.evaluations import (
    FRAME,
    RunEvaluations,
    epochs_trained,
    finish,
    weights_fingerprint,
)
from vaelab.runs.loader import RunLoader
from vaelab.runs.log import print_now, silent
from vaelab.runs.metrics_log import read_metrics

ESTIMATORS_JSON = "estimators.json"
ESTIMATORS_TXT = "estimators.txt"
ESTIMATORS_PNG = "estimators.png"
ESTIMATOR_FILES = (ESTIMATORS_JSON, ESTIMATORS_TXT, ESTIMATORS_PNG)
SAMPLES_PNG = "samples.png"
RECONSTRUCTIONS_PNG = "reconstructions.png"
TRAINING_CURVE_PNG = "training_curve.png"
MODEL_PICTURES = (SAMPLES_PNG, RECONSTRUCTIONS_PNG)


def display(model: LatentVariableModel, x: torch.Tensor) -> torch.Tensor:
    """Model-space values as images in [0, 1]."""
    return x / 255.0 if model.data_kind == "byte" else x.clamp(0.0, 1.0)


def held_out_tensor(model: LatentVariableModel, splits: Splits, examples: int,
                device: torch.device) -> torch.Tensor:
    """The first `examples` test images (0 = all) in model space, binarized with a fixed seed
    (of a streamed test split only those images are read)."""
    test = splits.test
    if isinstance(test, ImageSet):
        images = test.images if examples <= 0 else test.images[:examples]
    else:
        images = test.head(examples)
    generator = torch.Generator(device=device).manual_seed(SPLIT_SEED + 7)
    return to_model_space(images.to(device), splits.test.binary, model.data_kind, generator)


def write_pictures(model: LatentVariableModel, x_test: torch.Tensor, run_dir: Path,
                   seed: int = 0, names: Collection[str] | None = None) -> list[Path]:
    """Sample grid, reconstructions beside inputs, and training curves (only those in `names`,
    when given)."""
    paths = []
    if names is None or SAMPLES_PNG in names:
        generator = torch.Generator(device=x_test.device).manual_seed(seed)
        paths.append(save_image_grid(display(model, model.sample(64, generator)), run_dir / SAMPLES_PNG))
    if names is None or RECONSTRUCTIONS_PNG in names:
        originals = x_test[:32]
        recon = model.reconstruct(originals)
        pairs = torch.stack([display(model, originals), display(model, recon)], 1).flatten(0, 1)
        paths.append(save_image_grid(pairs, run_dir / RECONSTRUCTIONS_PNG, columns=16))
    records = read_metrics(run_dir)
    if records and (names is None or TRAINING_CURVE_PNG in names):
        paths.append(plot_training_curves(records, run_dir / TRAINING_CURVE_PNG))
    return paths


def picture_stamps(run_dir: Path, weights: str, pictures: Collection[str]) -> dict[str, str]:
    """The model each picture shows: its weights, and for the training curve also the epochs
    in the training log (present only when there is a log to draw)."""
    epochs = epochs_trained(run_dir)
    stamps = {name: weights for name in pictures}
    if epochs:
        stamps[TRAINING_CURVE_PNG] = f"{weights}/epochs={epochs}"
    return stamps


def evaluate_run(
    run_dir: Path,
    load: RunLoader,
    k: int = 1000,
    examples: int = 1000,
    compare: bool = False,
    ks: tuple[int, ...] = DEFAULT_KS,
    compare_examples: int = 100,
    ais_examples: int = 0,
    ais_chains: int = 16,
    ais_steps: int = 500,
    bdmc_examples: int = 0,
    bdmc_steps: tuple[int, ...] = DEFAULT_BDMC_STEPS,
    bdmc_chains: int = 1,
    gaps_examples: int = 0,
    gap_steps: int = 500,
    gap_flow: str | None = None,
    device: str = "auto",
    seed: int = EVALUATION_SEED,
    log: Callable[[str], None] = print_now,
    progress: bool | None = None,
    bernoulli_shortcut: bool = True,
    data_dir: str | None = None,
) -> dict:
    """Compute test metrics (and optionally the estimator comparison, AIS and BDMC on
    `bdmc_examples` examples simulated from the model, see `vaelab.evaluation.bdmc`), keep them as
    RUN/evaluations/<id>.json, merge them into metrics.json, and draw the pictures the run lacks
    for this model. Returns this evaluation's results with "evaluation" (its id), "files"
    (written), "kept" and "moved" (see `vaelab.runs.evaluations`). `progress`: bars on stderr
    (None: only when stderr is a terminal). `bernoulli_shortcut`: see held_out_metrics. `data_dir`:
    where the run's data are now, when they moved (see `vaelab.training.experiment.run_data`).
    `load`: the loader of the run's kind (its `load`; see `vaelab.runs.loader`). `gaps_examples`
    > 0 splits the inference gap on that many test images into approximation and amortization
    gaps (`vaelab.evaluation.gaps`; q* after `gap_steps` Adam steps, log p(x) by IS with k);
    `gap_flow` ("planar:K") also fits that flow per image: L[q*_flow]."""
    run_dir = Path(run_dir)
    if bdmc_examples:
        check_bdmc_settings(bdmc_examples, bdmc_steps, bdmc_chains, k)
    torch.manual_seed(seed)
    context = distributed.current()
    if context is not None:  # under torchrun: shard the test set, rank 0 writes the files
        torch.manual_seed(seed + context.rank)
        device = str(context.device)
        if not context.is_main:
            log = silent
    model, config, splits = load(run_dir, device=device, data_dir=data_dir)
    dev = next(model.parameters()).device
    x_test = held_out_tensor(model, splits, examples, dev)
    log(f"evaluating on {x_test.shape[0]} test images of {config.data.dataset} with k = {k} ...")
    metrics = {"dataset": config.data.dataset, "likelihood": config.model.likelihood,
               "test": held_out_metrics(model, x_test, k, context=context, progress=progress, log=log,
                                        bernoulli_shortcut=bernoulli_shortcut)}
    if context is not None and not context.is_main:
        return {**metrics, "files": []}
    n = int(x_test.shape[0])
    optional = {  # estimator -> its settings, for those asked for
        "prior_monte_carlo": compare and {"ks": list(ks), "examples": int(min(compare_examples, n))},
        "ais": ais_examples > 0 and {"examples": int(min(ais_examples, n)), "chains": ais_chains,
                                     "steps": ais_steps, "is_samples": max(k, 1)},
        "bdmc": bdmc_examples > 0 and {"examples": bdmc_examples, "steps": list(bdmc_steps),
                                       "chains": bdmc_chains, "is_samples": k},
        "gaps": gaps_examples > 0 and {"examples": int(min(gaps_examples, n)), "steps": gap_steps,
                                       "is_samples": k, **({"flow": gap_flow} if gap_flow else {})},
    }
    asked = {name: value for name, value in optional.items() if value}
    settings: dict = {"k": k, "examples": n, "examples_asked": examples, "seed": seed,
                      "estimators": ["elbo", "importance_sampling", *asked], "device": str(dev),
                      **{("compare" if name == "prior_monte_carlo" else name): value
                         for name, value in asked.items()}}
    store = RunEvaluations(run_dir, FRAME)
    weights = weights_fingerprint(model)
    stamps = picture_stamps(run_dir, weights, MODEL_PICTURES)
    estimator_stamps = dict.fromkeys(ESTIMATOR_FILES, weights)
    evaluation = store.begin(settings, weights, {**stamps, **estimator_stamps})
    metrics["latents"] = latent_diagnostics(model, x_test)
    paths = write_pictures(model, x_test, run_dir, seed, names=store.keep_or_move(evaluation, stamps))
    evaluation.drawn.update({p.name: stamps[p.name] for p in paths})
    if compare:
        x_cmp = x_test[:compare_examples]
        log(f"comparing estimators on {x_cmp.shape[0]} test images, k in {list(ks)} ...")
        rows = compare_estimators(model, x_cmp, ks, progress=progress)
        table = format_table(rows)
        log(table)
        store.make_room(evaluation, ESTIMATOR_FILES)
        atomic_write_text(run_dir / ESTIMATORS_JSON,
                          json.dumps({"examples": int(x_cmp.shape[0]),
                                      "rows": [r.as_dict() for r in rows]}, indent=2) + "\n")
        atomic_write_text(run_dir / ESTIMATORS_TXT, table + "\n")
        drawn = [run_dir / ESTIMATORS_JSON, run_dir / ESTIMATORS_TXT,
                 plot_estimator_comparison(rows, run_dir / ESTIMATORS_PNG)]
        paths += drawn
        evaluation.drawn.update({p.name: weights for p in drawn})
        metrics["estimators"] = [r.as_dict() for r in rows]
    else:  # an earlier model's comparison moves out of the way; this model's stays
        store.keep_or_move(evaluation, estimator_stamps)
    if ais_examples > 0:
        x_ais = x_test[:ais_examples]
        log(f"AIS ({ais_chains} chains x {ais_steps} steps) vs importance sampling on "
            f"{x_ais.shape[0]} test images ...")
        metrics["ais"] = ais_metrics(model, x_ais, ais_chains, ais_steps, max(k, 1), progress=progress)
        ais = metrics["ais"]
        log(f"  AIS {Estimate(**ais['log_px_ais'])}  IS {Estimate(**ais['log_px_is'])}  "
            f"IS − AIS {Estimate(**ais['is_minus_ais'])} nats")
    if bdmc_examples > 0:
        log(f"BDMC on {bdmc_examples} examples simulated from the model, annealing steps in "
            f"{sorted(bdmc_steps)} ...")
        metrics["bdmc"] = bdmc(model, bdmc_examples, bdmc_steps, chains=bdmc_chains, is_samples=k,
                               seed=seed, progress=progress)
        log(format_bdmc(metrics["bdmc"]))
    if gaps_examples > 0:
        metrics["gaps"] = _gaps(model, x_test[:gaps_examples], k, gap_steps, gap_flow, progress, log)
    return finish(store, evaluation, metrics, paths)


def _gaps(model: torch.nn.Module, x: torch.Tensor, k: int, steps: int, flow: str | None,
          progress: bool | None, log: Callable[[str], None]) -> dict:
    """The inference gaps on `x`, said as they are found."""
    with_flow = f" and a {flow} flow per image" if flow else ""
    log(f"inference gaps on {x.shape[0]} test images: IS with k = {k}, q*{with_flow} after {steps} "
        "Adam steps ...")
    gaps = inference_gaps(model, x, k=k, steps=steps, flow=flow, progress=progress)
    for line in gap_lines(gaps):
        log(line)
    return gaps
