"""The sub-commands: flags -> configs -> library calls -> a short report of what was written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vaelab import kinds
from vaelab.choices import DEFAULT_BDMC_STEPS, DEFAULT_KS, EVALUATION_SEED
from vaelab.cli.common import add_command, add_data_dir, add_device, add_run, on_the_runs_kind
from vaelab.data.errors import DataError
from vaelab.kinds.flags import add_common_flags, checked
from vaelab.runs.files import CHECKPOINT
from vaelab.settings import int_list
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.run_folder import default_run_dir


def user_errors() -> tuple[type[BaseException], ...]:
    """What a command raises for a mistake the user can fix (one line, exit status 2). Imported
    only once a command has failed, so that starting the CLI does not load torch."""
    from vaelab.runs.checkpoint import CheckpointError
    from vaelab.training.engine import NonFiniteLossError

    return (ConfigError, DataError, CheckpointError, NonFiniteLossError, FileExistsError, ValueError)


def add_train(sub: Any) -> None:
    """Train a VAE (or IWAE: --objective iwae) and evaluate it on the test split. Settings come from
    defaults, then --config FILE (TOML or JSON with sections [model], [data], [train]), then
    flags. The run folder gets config.json, metrics.jsonl (one line per epoch),
    checkpoint.safetensors, model_best.safetensors, metrics.json and pictures."""
    p = add_command(sub, "train", "train a model (config file and/or flags)", add_train.__doc__)
    p.add_argument("--config", type=Path, help="TOML or JSON experiment config")
    p.add_argument("--out", "--run-dir", dest="run_dir", type=Path, metavar="RUN",
                   help="the run folder to write (default runs/DATASET-TIME)")
    p.add_argument("--resume", type=Path, metavar="RUN",
                   help="continue an interrupted run from its last checkpoint "
                        "(only --epochs, --time-budget, --lr, --compile and --bf16 may change; "
                        "semi-supervised runs: only --epochs and --time-budget)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--no-eval", action="store_true",
                   help="skip the final test evaluation (on a short run it can take longer than the "
                        "training; `vaelab evaluate RUN` does it later)")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train with N processes on this machine: shorthand for "
                        "`torchrun --nproc-per-node N -m vaelab train ...` (DDP; gloo on CPU, "
                        "NCCL on GPU); --batch-size is per process")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log each epoch's scalars, samples and reconstructions to "
                        "RUN/tensorboard (needs `pip install tensorboard`; view with "
                        "`tensorboard --logdir RUN`)")
    add_common_flags(p)
    p.add_argument("--model", choices=kinds.model_names(), default="vae",
                   help="the kind of model: " + "; ".join(
                       f"{', '.join(kind.models)}: {kind.summary}" for kind in kinds.registered_kinds()))
    own_flags: dict[str, dict[str, str]] = {}
    for kind in kinds.registered_kinds():
        before = set(p._actions)
        kind.module().add_train_flags(p)
        own_flags[kind.name] = {action.dest: action.option_strings[0] for action in p._actions
                                if action not in before}
    state_defaults(p)
    p.set_defaults(handler=run_train, kind_flags=own_flags)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def state_defaults(parser: argparse.ArgumentParser) -> None:
    """Append each train flag's real default to its help, per kind where kinds differ:
    "(default: 10; ssm: 30; m2, m1m2, adgm, sdgm: 100)". The flags themselves default to None, so that only
    what the user typed overrides a config file."""
    per_model: dict[str, dict[str, Any]] = {}
    for kind in kinds.registered_kinds():
        defaults = getattr(kind.module(), "flag_defaults", None)
        for name in kind.models:
            per_model[name] = defaults(name) if defaults is not None else {}
        variants = getattr(kind.module(), "flag_default_variants", None)
        if variants is not None:
            per_model.update(variants())
    for action in parser._actions:
        values = {model: d[action.dest] for model, d in per_model.items() if action.dest in d}
        if not values or action.default is not None or "default" in (action.help or ""):
            continue
        groups: dict[str, list[str]] = {}
        for model, value in values.items():
            groups.setdefault(_shown(value), []).append(model)
        first, *rest = groups.items()
        text = first[0] if len(groups) == 1 else f"{first[0]} ({', '.join(first[1])})"
        text += "".join(f"; {', '.join(models)}: {value}" for value, models in rest)
        action.help = f"{action.help or ''} (default: {text})".strip()


def run_train(args: argparse.Namespace) -> int:
    """One path for every kind: the kind of the run being resumed, or the one --model names."""
    kind = kinds.kind_of_run(args.resume) if args.resume is not None else kinds.kind_for_model(args.model)
    refuse_foreign_flags(args, kind)
    return int(kind.module().train(args) or 0)


def refuse_foreign_flags(args: argparse.Namespace, kind: kinds.ModelKind) -> None:
    """ConfigError when a flag of another kind was given (e.g. --transition to a VAE): silently
    ignoring it would train something the user did not ask for."""
    given = []
    for other, options in getattr(args, "kind_flags", {}).items():
        if other == kind.name:
            continue
        owner = kinds.registered_kinds_by_name()[other].models
        given += [(flag, owner) for dest, flag in sorted(options.items())
                  if getattr(args, dest, None) not in (None, False)]
    if given:
        flags = ", ".join(flag for flag, _ in given)
        owners = sorted({"|".join(owner) for _, owner in given})
        raise ConfigError(f"{flags}: not used by --model {'|'.join(kind.models)} (for --model "
                          f"{' or '.join(owners)})")


def add_evaluate(sub: Any) -> None:
    """Evaluate a trained run on its test split: ELBO and importance-sampled log p(x) (nats, mean ±
    standard error). --compare-estimators also runs the naive prior Monte Carlo estimator beside
    importance sampling for each k and writes estimators.png / estimators.json. Each evaluation is
    kept as RUN/evaluations/<kind>-k<k>-n<examples>-<time>.json; metrics.json merges them."""
    p = add_command(sub, "evaluate", "test ELBO, importance-sampled log p(x), estimator comparison",
                    add_evaluate.__doc__)
    add_run(p)
    p.add_argument("-k", "--samples", type=int,
                   help="importance samples per image (per sequence: particles) (default: 1000; sequence "
                        "runs: the run's train.eval_samples, 100)")
    p.add_argument("--examples", type=int,
                   help="test images (0 = all) (default: 1000; sequence runs: the run's "
                        "train.eval_examples, 100, for the evidence — the probe and the prediction "
                        "scores always use every test sequence)")
    p.add_argument("--compare-estimators", action="store_true",
                   help="prior Monte Carlo vs importance sampling for each k in --ks")
    p.add_argument("--ks", type=checked(int_list), default=DEFAULT_KS, help="sample counts to compare")
    p.add_argument("--compare-examples", type=int, default=100,
                   help="test images used in the comparison")
    p.add_argument("--ais-examples", type=int, default=0,
                   help="also estimate log p(x) by annealed importance sampling on this many test "
                        "images (an estimator independent of the guide; slow)")
    p.add_argument("--ais-chains", type=int, default=16, help="independent AIS chains per image")
    p.add_argument("--ais-steps", type=int, default=500, help="annealing steps (HMC, 10 leapfrog)")
    p.add_argument("--bdmc", type=int, metavar="N",
                   help="bracket log p(x) by bidirectional Monte Carlo on N examples simulated from the "
                        "model: forward AIS gives a lower, reverse AIS from the known z an upper bound, "
                        "beside the IS estimate with -k samples (image runs)")
    p.add_argument("--bdmc-steps", type=checked(int_list), default=DEFAULT_BDMC_STEPS, metavar="STEPS",
                   help="annealing steps of each BDMC row, e.g. 10,100,1000: the width shrinks as "
                        "steps are added (default: 10,100,1000)")
    p.add_argument("--bdmc-chains", type=int, default=1, help="BDMC chains per example and direction")
    p.add_argument("--gaps", type=int, metavar="N",
                   help="split the inference gap log p(x) − ELBO on N test images into the approximation "
                        "gap (the guide's family) and the amortization gap (its encoder), with q* the "
                        "family's best member per image (Cremer et al. 2018; image runs)")
    p.add_argument("--gap-steps", type=int, default=500,
                   help="Adam steps per image that look for q* (its convergence is reported)")
    p.add_argument("--gap-flow", metavar="FAMILY",
                   help="also fit this flow per image on the guide's family, from the encoder's output "
                        "(planar:K, e.g. planar:16): L[q*_flow] and how much of the approximation gap "
                        "a richer family recovers (off by default: it about doubles the time of --gaps)")
    p.add_argument("--calibrate", action="store_true",
                   help="semi-supervised runs: fit a temperature on the run's validation labels and "
                        "report the test ECE after it (and keep it for `vaelab classify`), also for a "
                        "run trained without --calibrate")
    add_device(p)
    add_data_dir(p)
    p.add_argument("--seed", type=int, default=EVALUATION_SEED,
                   help="seed of the importance samples, particles and pictures, kept with the evaluation "
                        "(the default is the seed training's own final evaluation uses, whatever the "
                        "training seed, so the two give the same figures)")
    p.add_argument("--json", action="store_true",
                   help="print the results (test figures, AIS, estimator comparison, the evaluation's "
                        "id and files) as JSON on stdout, the other lines on stderr")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=on_the_runs_kind("evaluate"))


def add_sample(sub: Any) -> None:
    """Draw z ~ p(z) and decode E[x | z]; writes a PNG grid (and .npy with --npy)."""
    p = add_command(sub, "sample", "draw images from a trained model's prior", add_sample.__doc__,
                    epilog="example: vaelab sample RUN --grid -n 100 --columns 10 --out samples.png")
    add_run(p)
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws z ~ p(z)")
    p.add_argument("--out", type=Path, help="PNG path (default RUN/samples-SEED.png)")
    p.add_argument("--grid", action="store_true",
                   help="write the PNG grid (always done; the flag makes scripts explicit)")
    p.add_argument("--columns", type=int, help="images per grid row (default: a square grid)")
    p.add_argument("--npy", type=Path, help="also save the samples as an .npy array [N,C,H,W]")
    p.add_argument("--class", dest="class_label", type=int, metavar="C",
                   help="semi-supervised runs: draw images of class C (styles z ~ p(z))")
    add_device(p)
    p.set_defaults(handler=on_the_runs_kind("sample"))


def add_demo(sub: Any) -> None:
    """Trains an MLP VAE (784-512-512-32, Bernoulli likelihood, dynamic binarization) on the embedded
    5,000-digit MNIST subset, then writes samples, reconstructions, the training curve,
    metrics.json (test ELBO and importance-sampled log p(x)) and the estimator comparison."""
    p = add_command(sub, "demo",
                    "train and evaluate a VAE on the built-in MNIST subset (offline, 1–4 min on 2 cores)",
                    add_demo.__doc__)
    p.add_argument("--out", "--run-dir", dest="run_dir", type=Path, metavar="RUN",
                   help="the run folder to write (default runs/demo-TIME)")
    p.add_argument("--epochs", type=int, default=50,
                   help="passes over the 3,500 training digits (4,000 less the 500 held out for validation)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, shuffles and samples")
    p.add_argument("--compare-examples", type=int, default=50,
                   help="test images in the estimator comparison")
    p.add_argument("--ks", type=checked(int_list), default=DEFAULT_KS, help="sample counts to compare")
    p.add_argument("--eval-samples", type=int, default=1000,
                   help="k for the importance-sampled log p(x) of all 1,000 test images")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    config = ExperimentConfig().with_overrides({
        "data": {"dataset": "mnist-5k"},
        "train": {"epochs": args.epochs, "seed": args.seed, "kl_warmup_steps": 500,
                  "eval_samples": args.eval_samples, "eval_examples": 0},
    })
    run_dir = args.run_dir or default_run_dir("demo")
    if (Path(run_dir) / CHECKPOINT).exists():  # demo has no --resume of its own
        raise FileExistsError(f"{run_dir} already holds a run: pass another --out (or leave it out "
                              f"for a new dated folder); `vaelab train --resume {run_dir}` continues "
                              "that run")
    print(f"vaelab demo: VAE on the embedded MNIST subset -> {run_dir}", file=sys.stderr)
    from vaelab.kinds.vae import train_and_report

    train_and_report(config, run_dir, resume=False, progress=not args.no_progress,
                     evaluate=True, compare=True, compare_examples=args.compare_examples,
                     ks=tuple(args.ks))
    return 0
