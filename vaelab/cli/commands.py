"""The sub-commands: flags -> configs -> library calls -> a short report of what was written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vaelab import kinds
from vaelab.cli.common import default_run_dir
from vaelab.data import DATASET_NAMES, DataError
from vaelab.data.representation import BINARIZATIONS
from vaelab.distributions.families import FAMILIES
from vaelab.distributions.learned_priors import PRIORS
from vaelab.evaluation.estimators import DEFAULT_KS
from vaelab.models.config import ARCHITECTURES, INFERENCE
from vaelab.objectives.registry import OBJECTIVES
from vaelab.training.checkpoint import CheckpointError
from vaelab.training.config import LR_SCHEDULES, ConfigError, ExperimentConfig
from vaelab.training.loop import NonFiniteLossError

USER_ERRORS = (ConfigError, DataError, CheckpointError, NonFiniteLossError, FileExistsError,
               ValueError)


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
                   help="burda = lr·10^(−i/7) for 3^i epochs (Burda et al. 2016); cosine = "
                        "decay to --final-lr-fraction·lr over the epochs or the --time-budget, "
                        "whichever runs out first")
    t.add_argument("--final-lr-fraction", type=float,
                   help="cosine schedule: the last learning rate as a fraction of --lr (default 0.01)")
    t.add_argument("--time-budget", type=float, metavar="MINUTES",
                   help="stop after the epoch that uses up this much training time (0 = off)")
    t.add_argument("--compile", action="store_true", default=None,
                   help="compile the training step with torch.compile (first steps are slower)")
    t.add_argument("--bf16", dest="precision", action="store_const", const="bf16",
                   help="train under bfloat16 autocast (for GPUs; evaluation stays float32)")
    t.add_argument("--eval-samples", type=int, help="k for the final importance-sampled log p(x)")
    t.add_argument("--eval-examples", type=int, help="test images evaluated (0 = all)")
    p.add_argument("--model", choices=kinds.model_names(), default="vae",
                   help="the kind of model: " + "; ".join(
                       f"{', '.join(kind.models)}: {kind.summary}" for kind in kinds.registered_kinds()))
    for kind in kinds.registered_kinds():
        kind.module().add_train_flags(p)
    p.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """One path for every kind: the kind of the run being resumed, or the one --model names."""
    kind = kinds.kind_of_run(args.resume) if args.resume is not None else kinds.kind_for_model(args.model)
    return int(kind.module().train(args) or 0)


def add_evaluate(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", help="test ELBO, importance-sampled log p(x), estimator comparison",
        description="Evaluate a trained run on its test split: ELBO and importance-sampled "
                    "log p(x) (nats, mean ± standard error). --compare-estimators also runs the "
                    "naive prior Monte Carlo estimator beside importance sampling for each k and "
                    "writes estimators.png / estimators.json.",
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
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    return int(kinds.kind_of_run(args.run).module().evaluate(args) or 0)


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
    return int(kinds.kind_of_run(args.run).module().sample(args) or 0)


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
    from vaelab.kinds.vae import train_and_report

    train_and_report(config, run_dir, resume=False, progress=not args.no_progress,
                     evaluate=True, compare=True, compare_examples=args.compare_examples,
                     ks=tuple(args.ks))
    return 0
