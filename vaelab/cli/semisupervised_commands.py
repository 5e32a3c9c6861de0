"""Sub-commands for semi-supervised runs: train --model m2|m1m2, evaluate, classify, sample --class.

commands.py dispatches here when a run (or `--model`) is semi-supervised; this module only turns
flags into configs and calls the library (training/semisupervised.py, evaluation/classification.py).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from vaelab.data.user_images import read_images
from vaelab.evaluation.classification import (
    class_probabilities,
    class_samples,
    evaluate_semisupervised_run,
    model_space,
)
from vaelab.evaluation.plots import save_image_grid
from vaelab.evaluation.run import display
from vaelab.evaluation.store import output_lines
from vaelab.training.checkpoint import CONFIG, CheckpointError
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.experiment import load_trained_model
from vaelab.training.semisupervised import (
    KINDS,
    SECTION,
    SemiSupervisedExperiment,
    default_experiment,
    is_semisupervised_run,
    load_experiment,
)
from vaelab.training.semisupervised_fit import fit_semisupervised

MODELS = KINDS

# flag destination -> field of the [semisupervised] section
SEMI_FLAGS: dict[str, str] = {
    "labels": "labels",
    "classes": "classes",
    "alpha": "alpha",
    "labelled_batch_size": "labelled_batch_size",
    "classifier_hidden": "classifier_hidden",
    "m2_latent_dim": "m2_latent_dim",
    "m2_hidden": "m2_hidden",
    "m1_epochs": "m1_epochs",
    "m1_time_budget": "m1_time_budget_minutes",
}
#: what a resumed semi-supervised run may change
RESUMABLE = {"epochs", "time_budget_minutes"}


def _labels(text: str) -> int | str:
    if text == "all":
        return "all"
    try:
        return int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a number of labels or 'all', got {text!r}") from error


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def add_semisupervised_train_flags(parser: argparse.ArgumentParser) -> None:
    """The `vaelab train` flags of `--model m2` / `--model m1m2`."""
    g = parser.add_argument_group(
        "semi-supervised (--model m2 | m1m2; Kingma et al. 2014)",
        "M2 learns q(y|x) from a few labels and every unlabelled image; m1m2 runs M2 on the "
        "latent means of an M1 VAE ([model] flags then describe M1).")
    g.add_argument("--labels", type=_labels, metavar="N|all",
                   help="labelled training images, balanced per class and chosen by --seed "
                        "(default 100); 'all' = supervised")
    g.add_argument("--classes", type=int, help="number of classes (default: largest label + 1)")
    g.add_argument("--alpha", type=float,
                   help="α = ALPHA·N, the weight of the classification term (paper: 0.1); per "
                        "labelled example α / N_labels")
    g.add_argument("--labelled-batch-size", type=int,
                   help="labelled examples drawn per step beside each unlabelled batch (100)")
    g.add_argument("--classifier-hidden", type=_widths, help="hidden widths of q(y|x) (500)")
    g.add_argument("--m2-latent-dim", type=int, help="m1m2: size of M2's z (50)")
    g.add_argument("--m2-hidden", type=_widths, help="m1m2: hidden widths of M2's networks (500)")
    g.add_argument("--unlabelled", type=Path, metavar="PATH",
                   help="extra images without labels (a folder of images or an .npy/.npz array) "
                        "added to the training images")
    g.add_argument("--m1-run", type=Path, metavar="RUN",
                   help="m1m2: a trained VAE run to use as M1 (else M1 is trained first, in RUN/m1)")
    g.add_argument("--m1-epochs", type=int, help="m1m2: epochs of M1 training (50)")
    g.add_argument("--m1-time-budget", type=float, metavar="MINUTES",
                   help="m1m2: time budget of M1 training (0 = off)")


def wants_semisupervised(args: argparse.Namespace) -> bool:
    """`--model m2|m1m2`, or `--resume` of a semi-supervised run."""
    if getattr(args, "model", None) in MODELS:
        return True
    return args.resume is not None and is_semisupervised_run(args.resume)


def _semi_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, dest) for dest, name in SEMI_FLAGS.items()
            if getattr(args, dest, None) is not None}


def semisupervised_config(args: argparse.Namespace,
                          overrides: dict[str, dict[str, Any]]) -> SemiSupervisedExperiment:
    """Paper defaults for the kind, then --config FILE, then flags."""
    config = default_experiment(args.model)
    if args.config is not None:
        loaded = load_experiment(args.config)
        raw = loaded.to_dict()
        semi = raw.pop(SECTION, None)
        if semi is not None and semi.get("kind", args.model) != args.model:
            raise ConfigError(f"{args.config} describes a {semi['kind']!r} run but --model is "
                              f"{args.model!r}")
        config = config.with_overrides({**raw, **({SECTION: semi} if semi else {})})
    semi = {**_semi_overrides(args), "kind": args.model}
    if args.unlabelled is not None:
        if not args.unlabelled.exists():
            raise ConfigError(f"--unlabelled {args.unlabelled}: no such file or folder")
        semi["unlabelled"] = str(args.unlabelled.resolve())
    if args.m1_run is not None:
        if args.model != "m1m2":
            raise ConfigError("--m1-run belongs to --model m1m2")
        m1_dir = args.m1_run.resolve()
        if not (m1_dir / CONFIG).is_file():
            raise CheckpointError(f"--m1-run {args.m1_run} is not a vaelab run folder (no {CONFIG})")
        m1 = ExperimentConfig.load(m1_dir / CONFIG)
        if "model" in overrides:
            raise ConfigError("with --m1-run, M1's [model] comes from that run; drop the model flags")
        overrides = {**overrides, "model": asdict(m1.model)}
        semi["m1_run"] = str(m1_dir)
    return config.with_overrides({**overrides, SECTION: semi})


def run_semisupervised_train(args: argparse.Namespace, overrides: dict[str, dict[str, Any]],
                             default_run_dir: Path) -> int:
    """`vaelab train --model m2|m1m2 ...` and `vaelab train --resume RUN` of such a run."""
    if args.nproc is not None:
        raise ConfigError("--nproc is not supported for semi-supervised runs yet; use torchrun")
    if args.resume is not None:
        if (args.config is not None or set(overrides) - {"train"} or _semi_overrides(args)
                or args.unlabelled is not None or args.m1_run is not None
                or set(overrides.get("train", {})) - RESUMABLE):
            raise ConfigError("--resume continues a run with its saved config; only --epochs "
                              "and --time-budget may be given with it")
        run_dir = args.resume
        config = SemiSupervisedExperiment.load(run_dir / CONFIG).with_overrides(overrides)
        config.save(run_dir / CONFIG)
        resume = True
    else:
        config = semisupervised_config(args, overrides)
        run_dir = args.run_dir or default_run_dir
        resume = False
    fit_semisupervised(config, run_dir, resume, not args.no_progress)
    if not args.no_eval:
        metrics = evaluate_semisupervised_run(run_dir, k=config.train.eval_samples,
                                              examples=config.train.eval_examples,
                                              device=config.train.device, seed=config.train.seed,
                                              progress=False if args.no_progress else None)
        print(summary_line(metrics))
    print(f"run folder: {run_dir.resolve()}")
    return 0


def summary_line(metrics: dict) -> str:
    error = metrics["classification"]["error"]
    test = metrics["test"]
    return (f"test error {100 * error['mean']:.2f}% ± {100 * error['stderr']:.2f} over "
            f"{metrics['classification']['examples']} test images ({metrics['labels']} labels); "
            f"unlabelled bound ({test['bound_of']}) {test['elbo']['mean']:.2f} ± "
            f"{test['elbo']['stderr']:.2f} nats")


def run_semisupervised_evaluate(args: argparse.Namespace) -> int:
    """`vaelab evaluate RUN` for a semi-supervised run."""
    if args.compare_estimators or args.ais_examples:
        raise ConfigError("--compare-estimators and --ais-examples are for single-model runs; a "
                          "semi-supervised run reports error, the unlabelled bound and IS log p")
    metrics = evaluate_semisupervised_run(args.run, k=args.samples, examples=args.examples,
                                          device=args.device, seed=args.seed,
                                          progress=False if args.no_progress else None)
    shown = {k: v for k, v in metrics["classification"].items() if k != "confusion_matrix"}
    print(json.dumps({"classification": shown, "test": metrics["test"]}, indent=2))
    print("confusion matrix (rows: true class, columns: predicted):")
    for row in metrics["classification"]["confusion_matrix"]:
        print("  " + " ".join(f"{v:5d}" for v in row))
    print(summary_line(metrics))
    print("\n".join(output_lines(metrics)))
    return 0


def run_class_sample(args: argparse.Namespace) -> int:
    """`vaelab sample RUN --class C`: images of class C in random styles z ~ p(z)."""
    if not is_semisupervised_run(args.run):
        raise ConfigError(f"--class needs a semi-supervised run (--model m2|m1m2); {args.run} "
                          "has no classes")
    if not 1 <= args.num <= 100_000:
        raise ConfigError(f"--num must be in [1, 100000], got {args.num}")
    model, _, _ = load_trained_model(args.run, device=args.device)
    classes = model.num_classes
    if not 0 <= args.class_label < classes:
        raise ConfigError(f"--class must be in [0, {classes}), got {args.class_label}")
    generator = torch.Generator().manual_seed(args.seed)
    images = display(model, class_samples(model, classes, args.num, generator,
                                          only=args.class_label)).cpu()
    out = args.out or args.run / f"samples-class{args.class_label}-{args.seed}.png"
    save_image_grid(images, out, columns=args.columns)
    print(f"wrote {out}")
    if args.npy:
        import numpy as np

        np.save(args.npy, images.numpy())
        print(f"wrote {args.npy}")
    return 0


def add_classify(sub: Any) -> None:
    p = sub.add_parser(
        "classify", help="label images with a semi-supervised run's classifier q(y | x)",
        description="Print each image's most probable class and q(y | x) for a run trained with "
                    "--model m2 or m1m2. IMAGES are image files (PNG/JPEG), folders of images or "
                    ".npy/.npz arrays, sized like the run's training images.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder written by `vaelab train --model m2|m1m2`")
    p.add_argument("images", type=Path, nargs="+", help="image files, folders, .npy/.npz")
    p.add_argument("--top", type=int, default=3, help="classes shown per image")
    p.add_argument("--json", type=Path, help="also write names, predictions and probabilities")
    p.add_argument("--image-size", type=int, help="resize images to this square size first")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    if not is_semisupervised_run(args.run):
        raise CheckpointError(f"{args.run} is not a semi-supervised run (train one with "
                              "`vaelab train --model m2`)")
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    model, _, splits = load_trained_model(args.run, device=args.device)
    images, names, binary = read_images(args.images, args.image_size)
    expected = splits.train.image_shape
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(f"the images are {tuple(images.shape[1:])} (C, H, W) but the run was "
                          f"trained on {expected}; pass --image-size or convert them")
    probs = class_probabilities(model, model_space(model, images, binary)).cpu()
    top = min(args.top, probs.shape[1])
    for name, row in zip(names, probs, strict=True):
        values, classes = row.topk(top)
        shown = "  ".join(f"{int(c)}: {float(v):.3f}" for v, c in zip(values, classes, strict=True))
        print(f"{name}\t{int(classes[0])}\t{shown}")
    if args.json:
        args.json.write_text(json.dumps([
            {"image": n, "class": int(r.argmax()), "probabilities": [round(float(v), 6) for v in r]}
            for n, r in zip(names, probs, strict=True)], indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0
