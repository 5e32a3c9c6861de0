"""The sub-commands: flags -> configs -> library calls -> a short report of what was written."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from vaelab.cli import report_commands, semisupervised_commands, sequence_commands
from vaelab.cli.common import default_run_dir, print_run_folder, save_npy
from vaelab.data import DATASET_NAMES, DataError
from vaelab.data.representation import BINARIZATIONS
from vaelab.distributions.families import FAMILIES
from vaelab.distributions.learned_priors import PRIORS
from vaelab.evaluation.estimators import DEFAULT_KS
from vaelab.evaluation.plots import save_image_grid
from vaelab.evaluation.run import display, evaluate_run
from vaelab.evaluation.store import output_lines
from vaelab.models.config import ARCHITECTURES, INFERENCE
from vaelab.objectives.registry import OBJECTIVES
from vaelab.training.checkpoint import CONFIG, CheckpointError
from vaelab.training.config import LR_SCHEDULES, ConfigError, ExperimentConfig
from vaelab.training.distributed import current as current_distributed
from vaelab.training.distributed import launched_by_torchrun
from vaelab.training.distributed import teardown as teardown_distributed
from vaelab.training.experiment import load_trained_model
from vaelab.training.loop import NonFiniteLossError, fit

USER_ERRORS = (ConfigError, DataError, CheckpointError, NonFiniteLossError, FileExistsError,
               ValueError)

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
    "time_budget": ("train", "time_budget_minutes"),
    "compile": ("train", "compile"),
    "precision": ("train", "precision"),
}
#: settings a resumed run may change: its length, and speed switches that leave the model as it is
RESUMABLE = {"epochs", "time_budget_minutes", "compile", "precision"}


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def add_train(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train a model (config file and/or flags)",
        description="Train a VAE (or IWAE: --objective iwae) and evaluate it on the test split. "
                    "Settings come from defaults, then --config FILE (TOML or JSON with sections "
                    "[model], [data], [train]), then flags. The run folder gets config.json, "
                    "metrics.jsonl (one line per epoch), checkpoint.safetensors, "
                    "model_best.safetensors, metrics.json and pictures.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", type=Path, help="TOML or JSON experiment config")
    p.add_argument("--run-dir", type=Path, help="output folder (default runs/DATASET-TIME)")
    p.add_argument("--resume", type=Path, metavar="RUN",
                   help="continue an interrupted run from its last checkpoint "
                        "(only --epochs, --time-budget, --compile and --bf16 may change)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--no-eval", action="store_true", help="skip the final test evaluation")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train with N processes on this machine: shorthand for "
                        "`torchrun --nproc-per-node N -m vaelab train ...` (DDP; gloo on CPU, "
                        "NCCL on GPU); --batch-size is per process")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log each epoch's scalars, samples and reconstructions to "
                        "RUN/tensorboard (needs `pip install tensorboard`; view with "
                        "`tensorboard --logdir RUN`)")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", help=f"{', '.join(DATASET_NAMES)}, or a folder of images / "
                                     ".npy / .npz file")
    d.add_argument("--data-dir", help="folder holding dataset files (also $VAELAB_DATA)")
    d.add_argument("--binarization", choices=BINARIZATIONS,
                   help="how grey pixels meet a Bernoulli likelihood: dynamic (resampled each "
                        "epoch), static (once, seeded), none (refuse); auto = dynamic for the "
                        "built-in datasets, none for your own data")
    d.add_argument("--validation-size", type=int, help="examples held out for validation")
    d.add_argument("--image-size", type=int, help="resize user images to this square size")
    d.add_argument("--train-limit", type=int, help="use only the first N training examples")
    m = p.add_argument_group("model")
    m.add_argument("--architecture", choices=ARCHITECTURES)
    m.add_argument("--latent-dim", type=int)
    m.add_argument("--hidden", type=_int_list, help="hidden widths, e.g. 512,512")
    m.add_argument("--likelihood", choices=FAMILIES)
    m.add_argument("--prior-scale", type=float, help="σ of the prior Normal(0, σ²I)")
    m.add_argument("--activation")
    m.add_argument("--prior", choices=PRIORS,
                   help="normal = Normal(0, σ²I); mog = learned Gaussian mixture; vamp = VampPrior")
    m.add_argument("--prior-components", type=int,
                   help="mixture components / VampPrior pseudo-inputs (default 10 / 500)")
    m.add_argument("--upper-latents", type=_int_list,
                   help="sizes of further stochastic layers above z_1, e.g. 50 for Burda's "
                        "2-layer model (with --latent-dim 100)")
    m.add_argument("--upper-hidden", type=_int_list,
                   help="hidden widths between stochastic layers, e.g. 100,100")
    m.add_argument("--inference", choices=INFERENCE,
                   help="guide of a hierarchical model: bottom-up (Burda) or top-down (ladder VAE)")
    t = p.add_argument_group("training")
    t.add_argument("--objective", choices=OBJECTIVES,
                   help="elbo or iwae; -stl / -dreg select lower-variance gradient estimators")
    t.add_argument("--samples", type=int, help="samples per example (k for IWAE)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="Adam learning rate")
    t.add_argument("--kl-warmup", type=int, help="steps of linear KL warm-up (0 = off)")
    t.add_argument("--grad-clip", type=float, help="max gradient norm (0 = off)")
    t.add_argument("--patience", type=int, help="early stopping patience in epochs (0 = off)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto, cpu or cuda[:N]")
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="burda = lr·10^(−i/7) for 3^i epochs (Burda et al. 2016)")
    t.add_argument("--time-budget", type=float, metavar="MINUTES",
                   help="stop after the epoch that uses up this much training time (0 = off)")
    t.add_argument("--compile", action="store_true", default=None,
                   help="compile the training step with torch.compile (first steps are slower)")
    t.add_argument("--bf16", dest="precision", action="store_const", const="bf16",
                   help="train under bfloat16 autocast (for GPUs; evaluation stays float32)")
    t.add_argument("--eval-samples", type=int, help="k for the final importance-sampled log p(x)")
    t.add_argument("--eval-examples", type=int, help="test images evaluated (0 = all)")
    # --- sequence models: --model ssm trains a state-space model (vaelab/cli/sequence_commands.py) ---
    p.add_argument("--model", choices=(*sequence_commands.MODELS, *semisupervised_commands.MODELS),
                   default="vae",
                   help="vae: a latent-variable model of images; ssm: a state-space model of image "
                        "sequences (e.g. --dataset pendulum); m2, m1m2: semi-supervised "
                        "classifiers (Kingma et al. 2014)")
    sequence_commands.add_sequence_train_flags(p)
    # --- end sequence models ---
    semisupervised_commands.add_semisupervised_train_flags(p)
    p.set_defaults(handler=run_train)


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for dest, (section, name) in TRAIN_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out.setdefault(section, {})[name] = value
    return out


def _train_and_report(config: ExperimentConfig, run_dir: Path, resume: bool, progress: bool,
                      evaluate: bool, compare: bool = False, compare_examples: int = 100,
                      ks: tuple[int, ...] = DEFAULT_KS, tensorboard: bool = False) -> dict | None:
    logger = report_commands.tensorboard_callback(config, run_dir) if tensorboard else None
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
                               seed=config.train.seed, progress=None if progress else False)
    teardown_distributed()
    if context is not None and not context.is_main:
        return metrics
    if metrics is not None:
        test = metrics["test"]
        print(f"test ELBO {test['elbo']['mean']:.2f} ± {test['elbo']['stderr']:.2f} nats; "
              f"log p(x) (IS, k={test['is_samples']}) {test['log_px_is']['mean']:.2f} ± "
              f"{test['log_px_is']['stderr']:.2f} nats over {test['examples']} test images")
    print_run_folder(run_dir)
    return metrics


def _relaunch_with_torchrun(args: argparse.Namespace) -> int:
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


def run_train(args: argparse.Namespace) -> int:
    # --- sequence models: --model ssm (or resuming such a run) is handled by sequence_commands ---
    if sequence_commands.wants_sequence_model(args):
        return sequence_commands.run_sequence_train(args)
    # --- end sequence models ---
    if args.nproc is not None and not launched_by_torchrun():
        return _relaunch_with_torchrun(args)
    overrides = _overrides(args)
    # --- semi-supervised models: --model m2|m1m2 (or resuming such a run) ---
    if semisupervised_commands.wants_semisupervised(args):
        return semisupervised_commands.run_semisupervised_train(
            args, overrides, default_run_dir(args.dataset or "mnist-5k"))
    if args.resume is not None:
        if args.config is not None or set(overrides) - {"train"} or \
                set(overrides.get("train", {})) - RESUMABLE:
            raise ConfigError("--resume continues a run with its saved config; only --epochs, "
                              "--time-budget, --compile and --bf16 may be given with it")
        run_dir = args.resume
        if not (run_dir / CONFIG).is_file():
            raise CheckpointError(f"{run_dir} is not a vaelab run folder (no {CONFIG})")
        config = ExperimentConfig.load(run_dir / CONFIG).with_overrides(overrides)
        config.save(run_dir / CONFIG)
        resume = True
    else:
        base = ExperimentConfig.load(args.config) if args.config else ExperimentConfig()
        config = base.with_overrides(overrides)
        run_dir = args.run_dir or default_run_dir(config.data.dataset)
        resume = False
    _train_and_report(config, run_dir, resume, not args.no_progress, not args.no_eval,
                      tensorboard=args.tensorboard)
    return 0


def add_evaluate(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", help="test ELBO, importance-sampled log p(x), estimator comparison",
        description="Evaluate a trained run on its test split: ELBO and importance-sampled "
                    "log p(x) (nats, mean ± standard error). --compare-estimators also runs the "
                    "naive prior Monte Carlo estimator beside importance sampling for each k and "
                    "writes estimators.png / estimators.json. Each evaluation is kept as "
                    "RUN/evaluations/<kind>-k<k>-n<examples>-<time>.json; metrics.json merges them.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder written by `vaelab train`")
    p.add_argument("-k", "--samples", type=int, default=1000, help="importance samples per image")
    p.add_argument("--examples", type=int, default=1000, help="test images (0 = all)")
    p.add_argument("--compare-estimators", action="store_true",
                   help="prior Monte Carlo vs importance sampling for each k in --ks")
    p.add_argument("--ks", type=_int_list, default=DEFAULT_KS, help="sample counts to compare")
    p.add_argument("--compare-examples", type=int, default=100,
                   help="test images used in the comparison")
    p.add_argument("--ais-examples", type=int, default=0,
                   help="also estimate log p(x) by annealed importance sampling on this many test "
                        "images (an estimator independent of the guide; slow)")
    p.add_argument("--ais-chains", type=int, default=16)
    p.add_argument("--ais-steps", type=int, default=500, help="annealing steps (HMC, 10 leapfrog)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    if semisupervised_commands.is_semisupervised_run(args.run):
        return semisupervised_commands.run_semisupervised_evaluate(args)
    if args.samples < 1 or args.compare_examples < 1 or min(args.ks) < 1 or args.examples < 0:
        raise ConfigError("-k, --ks and --compare-examples must be >= 1 and --examples >= 0")
    if args.ais_examples < 0 or args.ais_chains < 1 or args.ais_steps < 1:
        raise ConfigError("--ais-examples must be >= 0, --ais-chains and --ais-steps >= 1")
    metrics = evaluate_run(args.run, k=args.samples, examples=args.examples,
                           compare=args.compare_estimators, ks=tuple(args.ks),
                           compare_examples=args.compare_examples,
                           ais_examples=args.ais_examples, ais_chains=args.ais_chains,
                           ais_steps=args.ais_steps, device=args.device, seed=args.seed,
                           progress=False if args.no_progress else None)
    print(json.dumps(metrics["test"], indent=2))
    print("\n".join(output_lines(metrics)))
    return 0


def add_sample(sub: Any) -> None:
    p = sub.add_parser(
        "sample", help="draw images from a trained model's prior",
        description="Draw z ~ p(z) and decode E[x | z]; writes a PNG grid (and .npy with --npy).",
        epilog="example: vaelab sample RUN --grid -n 100 --columns 10 --out samples.png",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder written by `vaelab train`")
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="PNG path (default RUN/samples-SEED.png)")
    p.add_argument("--grid", action="store_true",
                   help="write the PNG grid (always done; the flag makes scripts explicit)")
    p.add_argument("--columns", type=int, help="images per grid row; None = a square grid")
    p.add_argument("--npy", type=Path, help="also save the samples as an .npy array [N,C,H,W]")
    p.add_argument("--class", dest="class_label", type=int, metavar="C",
                   help="semi-supervised runs: draw images of class C (styles z ~ p(z))")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    # --- sequence models: a run of kind "ssm" samples whole sequences (sequence_commands) ---
    if sequence_commands.is_sequence_run(args.run):
        return sequence_commands.run_sequence_sample(args)
    # --- end sequence models ---
    if args.class_label is not None:
        return semisupervised_commands.run_class_sample(args)
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


def add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="train and evaluate a VAE on the built-in MNIST subset (offline, ~2 min)",
        description="Trains an MLP VAE (784-512-512-32, Bernoulli likelihood, dynamic "
                    "binarization) on the embedded 5,000-digit MNIST subset, then writes samples, "
                    "reconstructions, the training curve, metrics.json (test ELBO and "
                    "importance-sampled log p(x)) and the estimator comparison.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--run-dir", type=Path, help="output folder (default runs/demo-TIME)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare-examples", type=int, default=50,
                   help="test images in the estimator comparison")
    p.add_argument("--ks", type=_int_list, default=DEFAULT_KS, help="sample counts to compare")
    p.add_argument("--eval-samples", type=int, default=1000,
                   help="k for the importance-sampled log p(x) of all 1,000 test images")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    config = ExperimentConfig().with_overrides({
        "data": {"dataset": "mnist-5k"},
        "train": {"epochs": args.epochs, "seed": args.seed, "kl_warmup_steps": 500,
                  "eval_samples": args.eval_samples, "eval_examples": 0},
    })
    run_dir = args.run_dir or default_run_dir("demo")
    print(f"vaelab demo: VAE on the embedded MNIST subset -> {run_dir}", file=sys.stderr)
    _train_and_report(config, run_dir, resume=False, progress=not args.no_progress,
                      evaluate=True, compare=True, compare_examples=args.compare_examples,
                      ks=tuple(args.ks))
    return 0
