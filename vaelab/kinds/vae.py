"""The VAE family as a kind: VAE / IWAE, hierarchical and ladder VAEs, learned priors.

Config: `ExperimentConfig` ([model], [data], [train]); builder `vaelab.models.config.build_model`;
data `vaelab.training.experiment.load_splits`; objective by name (`vaelab.objectives.registry`);
training `vaelab.training.loop.fit`; evaluation `vaelab.evaluation.run.evaluate_run`; the report's
sections are registered in vaelab.reports. Its config.json carries no "kind" key (the first kind).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from vaelab.cli.common import default_run_dir, print_run_folder, save_npy
from vaelab.cli.report_commands import tensorboard_callback
from vaelab.evaluation.estimators import DEFAULT_KS
from vaelab.evaluation.plots import save_image_grid
from vaelab.evaluation.run import display, evaluate_run
from vaelab.training.checkpoint import CONFIG, CheckpointError
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.distributed import current as current_distributed
from vaelab.training.distributed import launched_by_torchrun
from vaelab.training.distributed import teardown as teardown_distributed
from vaelab.training.experiment import load_trained_model
from vaelab.training.loop import fit

# flag destination -> (config section, field)
TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "dataset": ("data", "dataset"),
    "data_dir": ("data", "data_dir"),
    "binarization": ("data", "binarization"),
    "validation_size": ("data", "validation_size"),
    "image_size": ("data", "image_size"),
    "train_limit": ("data", "train_limit"),
    "architecture": ("model", "architecture"),
    "latent_dim": ("model", "latent_dim"),
    "hidden": ("model", "hidden"),
    "likelihood": ("model", "likelihood"),
    "prior_scale": ("model", "prior_scale"),
    "activation": ("model", "activation"),
    "prior": ("model", "prior"),
    "prior_components": ("model", "prior_components"),
    "upper_latents": ("model", "upper_latents"),
    "upper_hidden": ("model", "upper_hidden"),
    "inference": ("model", "inference"),
    "objective": ("train", "objective"),
    "samples": ("train", "samples"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "learning_rate"),
    "kl_warmup": ("train", "kl_warmup_steps"),
    "grad_clip": ("train", "grad_clip"),
    "patience": ("train", "patience"),
    "seed": ("train", "seed"),
    "device": ("train", "device"),
    "eval_samples": ("train", "eval_samples"),
    "eval_examples": ("train", "eval_examples"),
    "lr_schedule": ("train", "lr_schedule"),
    "final_lr_fraction": ("train", "final_lr_fraction"),
    "time_budget": ("train", "time_budget_minutes"),
    "compile": ("train", "compile"),
    "precision": ("train", "precision"),
}
#: settings a resumed run may change: its length, and speed switches that leave the model as it is
RESUMABLE = {"epochs", "time_budget_minutes", "compile", "precision"}




def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """The VAE family uses the common data / model / training flags of `vaelab train` only."""


def load(run_dir: Path, best: bool = True, device: str = "cpu") -> tuple[Any, ExperimentConfig, Any]:
    return load_trained_model(run_dir, best=best, device=device)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for dest, (section, name) in TRAIN_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out.setdefault(section, {})[name] = value
    return out


def train_and_report(config: ExperimentConfig, run_dir: Path, resume: bool, progress: bool,
                     evaluate: bool, compare: bool = False, compare_examples: int = 100,
                     ks: tuple[int, ...] = DEFAULT_KS, tensorboard: bool = False) -> dict | None:
    """Train (or resume), evaluate on the test split, print the headline numbers and the folder."""
    logger = tensorboard_callback(config, run_dir) if tensorboard else None
    try:
        model, loop = fit(config, run_dir, resume=resume, progress=progress, on_epoch=logger)
    finally:
        if logger is not None:
            logger.close()
    context = current_distributed()
    metrics = None
    if evaluate:
        metrics = evaluate_run(run_dir, k=config.train.eval_samples,
                               examples=config.train.eval_examples, compare=compare,
                               ks=ks, compare_examples=compare_examples,
                               device=config.train.device,
                               seed=config.train.seed)
    teardown_distributed()
    if context is not None and not context.is_main:
        return metrics
    if metrics is not None:
        print(test_summary(metrics["test"]))
    print_run_folder(run_dir)
    return metrics


def relaunch_with_torchrun(args: argparse.Namespace) -> int:
    """Run this same command under torchrun with --nproc processes, and wait for it."""
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    argv = list(args.argv)
    index = next(i for i, a in enumerate(argv) if a == "--nproc" or a.startswith("--nproc="))
    del argv[index:index + (1 if "=" in argv[index] else 2)]
    if args.run_dir is None and args.resume is None:  # every rank must agree on one folder
        argv += ["--run-dir", str(default_run_dir(args.dataset or "run"))]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={args.nproc}", "-m", "vaelab", *argv]
    print("launching: " + " ".join(command), file=sys.stderr, flush=True)
    return subprocess.call(command)


def train(args: argparse.Namespace) -> int:
    """`vaelab train [--model vae]` and `vaelab train --resume RUN` of a VAE-family run."""
    if args.nproc is not None and not launched_by_torchrun():
        return relaunch_with_torchrun(args)
    flags = overrides(args)
    if args.resume is not None:
        if args.config is not None or set(flags) - {"train"} or set(flags.get("train", {})) - RESUMABLE:
            raise ConfigError("--resume continues a run with its saved config; only --epochs, "
                              "--time-budget, --compile and --bf16 may be given with it")
        run_dir = args.resume
        if not (run_dir / CONFIG).is_file():
            raise CheckpointError(f"{run_dir} is not a vaelab run folder (no {CONFIG})")
        config = ExperimentConfig.load(run_dir / CONFIG).with_overrides(flags)
        config.save(run_dir / CONFIG)
        resume = True
    else:
        base = ExperimentConfig.load(args.config) if args.config else ExperimentConfig()
        config = base.with_overrides(flags)
        run_dir = args.run_dir or default_run_dir(config.data.dataset)
        resume = False
    train_and_report(config, run_dir, resume, not args.no_progress, not args.no_eval,
                     tensorboard=args.tensorboard)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """`vaelab evaluate RUN`: ELBO and IS log p(x) on the test split, optionally the estimator
    comparison and AIS."""
    if args.samples < 1 or args.compare_examples < 1 or min(args.ks) < 1 or args.examples < 0:
        raise ConfigError("-k, --ks and --compare-examples must be >= 1 and --examples >= 0")
    if args.ais_examples < 0 or args.ais_chains < 1 or args.ais_steps < 1:
        raise ConfigError("--ais-examples must be >= 0, --ais-chains and --ais-steps >= 1")
    metrics = evaluate_run(args.run, k=args.samples, examples=args.examples,
                           compare=args.compare_estimators, ks=tuple(args.ks),
                           compare_examples=args.compare_examples,
                           ais_examples=args.ais_examples, ais_chains=args.ais_chains,
                           ais_steps=args.ais_steps, device=args.device, seed=args.seed)
    if args.json:
        print(json.dumps(metrics["test"], indent=2))
    else:
        print(test_summary(metrics["test"]))
    print("wrote:\n  " + "\n  ".join(metrics["files"]))
    return 0


def test_summary(test: dict[str, Any]) -> str:
    """One line of held-out numbers: ELBO and IS log p(x) with their standard errors."""
    line = (f"test ELBO {test['elbo']['mean']:.2f} ± {test['elbo']['stderr']:.2f} nats; "
            f"log p(x) (IS, k={test['is_samples']}) {test['log_px_is']['mean']:.2f} ± "
            f"{test['log_px_is']['stderr']:.2f} nats over {test['examples']} test images")
    if "bits_per_dim_is" in test:
        line += f" ({test['bits_per_dim_is']:.3f} bits/dim)"
    return line


def sample(args: argparse.Namespace) -> int:
    """`vaelab sample RUN`: z ~ p(z) decoded to E[x | z], as a PNG grid (and .npy)."""
    if args.class_label is not None:
        raise ConfigError(f"--class needs a semi-supervised run (--model m2|m1m2); {args.run} "
                          "has no classes")
    return sample_images(args)


def sample_images(args: argparse.Namespace) -> int:
    """Draw --num images from a frame model's prior and write them (shared with other kinds)."""
    if not 1 <= args.num <= 100_000:
        raise ConfigError(f"--num must be in [1, 100000], got {args.num}")
    if args.columns is not None and args.columns < 1:
        raise ConfigError(f"--columns must be >= 1, got {args.columns}")
    model, _, _ = load_trained_model(args.run, device=args.device)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)
    images = display(model, model.sample(args.num, generator)).cpu()
    out = args.out or args.run / f"samples-{args.seed}.png"
    save_image_grid(images, out, columns=args.columns)
    print(f"wrote {out}")
    save_npy(args.npy, images.numpy())
    return 0
