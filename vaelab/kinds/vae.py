"""The VAE family as a kind: VAE / IWAE, hierarchical and ladder VAEs, learned priors.

Config: `ExperimentConfig` ([model], [data], [train]); builder `vaelab.models.config.build_model`;
data `vaelab.training.experiment.load_splits`; objective by name (`vaelab.objectives.registry`);
training `vaelab.training.loop.fit`; evaluation `vaelab.evaluation.run.evaluate_run`; the report's
sections are registered in vaelab.reports. Its config.json carries no "kind" key (the first kind).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vaelab.choices import DEFAULT_KS, EMBEDDED_NAME, EVALUATION_SEED, PENDULUM
from vaelab.kinds.common import print_run_folder, save_npy
from vaelab.kinds.flags import common_flags, defaults, typed_flag
from vaelab.kinds.flags import overrides as flag_overrides
from vaelab.kinds.image_runs import explore_session, reconstruct, report  # noqa: F401 - commands
from vaelab.runs.files import CONFIG
from vaelab.runs.loader import RunLoader
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.config_files import MAX_EPOCHS, read_config_file, until_budget
from vaelab.training.run_folder import default_run_dir

#: train settings `--resume` may change: how long, how fast, and the rate (a run whose training
#: diverged continues from its checkpoint with a lower one)
RESUMABLE = {"epochs", "time_budget_minutes", "compile", "precision", "learning_rate"}


def given(args: argparse.Namespace, flags: dict[str, dict[str, Any]], section: str, name: str) -> bool:
    """Whether the user set `section.name` (e.g. train.epochs): by a flag or in the --config file."""
    if name in flags.get(section, {}):
        return True
    if getattr(args, "config", None) is None:
        return False
    values = read_config_file(args.config).get(section)
    return isinstance(values, dict) and name in values


def budget_flag(args: argparse.Namespace) -> str:
    """The time-budget flag as the user typed it, --time-budget or --minutes (the last typed is
    the one applied); --time-budget when the budget came from a config file or the resumed run's
    config."""
    return typed_flag(args, ("--time-budget", "--minutes"))


def train_until_budget(config: Any, minutes: float, epochs_given: bool) -> Any:
    """A time budget without epochs given (flag or config file) sets how long a new run trains:
    its epochs become MAX_EPOCHS, so the kind's default epochs do not end it first. Epoch-paced
    schedules stay sensible: cosine decay is paced by the budget, burda's stages and KL warm-up
    count epochs and steps from the start, whatever the total."""
    if minutes > 0 and not epochs_given:
        return config.with_overrides({"train": {"epochs": MAX_EPOCHS}})
    return config


def announce_budget(minutes: float, flag: str, epochs: int, evaluate: bool, what: str = "training",
                    epochs_flag: str = "--epochs") -> None:
    """Say before training what a time budget covers: training and each epoch's validation; the
    final evaluation (test-set bounds, importance sampling, pictures) comes after, outside it."""
    if minutes <= 0 or os.environ.get("RANK", "0") != "0":  # once under torchrun
        return
    length = (f"until it runs out (no {epochs_flag} given)" if until_budget(epochs)
              else f"or {epochs} epochs, whichever ends first")
    after = ("; the final evaluation comes after it, outside the budget (--no-eval skips it)"
             if evaluate else "")
    print(f"time budget: {minutes:g} min of {what} ({flag}, each epoch's validation included), "
          f"{length}{after}", flush=True)


def more_time(run_dir: Path, flag: str) -> str:
    """How a run whose time budget ran out trains further (said when it runs out)."""
    return f"`vaelab train --resume {run_dir} {flag} MINUTES` continues"


#: `--model NAME` of this kind: the settings it starts from (flags and a --config file override
#: them). `deep` is the top-down hierarchy of vaelab.models.deep with the stability options its
#: training needs; bench/README.md ("Deep hierarchical VAEs") says how they were chosen.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "vae": {},
    "deep": {
        "model": {"architecture": "deep", "groups": 3, "latent_dim": 24, "hidden": (256,),
                  "activation": "elu"},
        "train": {"batch_size": 100, "learning_rate": 2e-3, "lr_schedule": "cosine",
                  "grad_clip": 200.0, "grad_skip": 2000.0, "free_bits": 2.0,
                  "weight_decay": 0.03},
    },
}


#: for a likelihood of 8-bit values: `deep`'s gradient guards above were set on binary digits
#: (median gradient norm ~40 per step of 100); an 8-bit likelihood's loss per image is ~20x larger
#: and so are its gradients (median ~700 on Fashion-MNIST with logistic-mixture:10), where those
#: guards would skip ~90 % of the steps. At the binary preset's rate, 2e-3, such a run turned
#: unstable after 13 epochs (bench/README.md), hence half of it
GREY_LEVEL_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "deep": {"train": {"grad_clip": 3500.0, "grad_skip": 35000.0, "learning_rate": 1e-3}},
}


def base_config(model: str, likelihood: str | None = None) -> ExperimentConfig:
    """The config `--model NAME` starts from; for a likelihood of grey levels (`likelihood`, as
    the flags or config file chose it) with the preset's guards scaled to its gradients and its
    rate halved. A likelihood it cannot read is left to the config's own check to refuse."""
    config = ExperimentConfig().with_overrides(PRESETS.get(model, {}))
    if likelihood is not None and model in GREY_LEVEL_SETTINGS:
        from vaelab.distributions.families import make_family  # torch: not for --help

        try:
            byte = make_family(likelihood).data_kind == "byte"
        except ValueError:
            byte = False
        if byte:
            config = config.with_overrides(GREY_LEVEL_SETTINGS[model])
    return config


def flag_defaults(model: str) -> dict[str, Any]:
    """Each `vaelab train` flag's default for --model vae or deep: the preset's values."""
    return defaults(base_config(model).to_dict(), common_flags())


def flag_default_variants() -> dict[str, dict[str, Any]]:
    """The flag defaults a preset changes for a likelihood of grey levels, by the name `--help`
    shows them under: only those that differ from the preset's own."""
    variants = {}
    for model, settings in GREY_LEVEL_SETTINGS.items():
        own = flag_defaults(model)
        grey = defaults(base_config(model).with_overrides(settings).to_dict(), common_flags())
        variants[f"{model} with an 8-bit likelihood"] = {
            key: value for key, value in grey.items() if own.get(key) != value}
    return variants


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """The VAE family uses the common data / model / training flags of `vaelab train` only."""


def load(run_dir: Path, best: bool = True, device: str = "cpu",
         data: bool = True, data_dir: str | None = None) -> tuple[Any, ExperimentConfig, Any]:
    """(model, config, splits) of a run; `data=False`: the run folder alone, splits None."""
    from vaelab.training.experiment import load_trained_model

    return load_trained_model(run_dir, best=best, device=device, data=data, data_dir=data_dir)


def overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} of the data / model / training flags given."""
    return flag_overrides(args, common_flags())


def train_and_report(config: ExperimentConfig, run_dir: Path, resume: bool, progress: bool,
                     evaluate: bool, compare: bool = False, compare_examples: int = 100,
                     ks: tuple[int, ...] = DEFAULT_KS, tensorboard: bool = False,
                     more_time: str | None = None) -> dict | None:
    """Train (or resume), evaluate on the test split, print the headline numbers and the folder.
    `more_time` says how to train further once the time budget is used up."""
    from vaelab.evaluation.run import evaluate_run
    from vaelab.kinds.common import tensorboard_callback
    from vaelab.runs.distributed import current as current_distributed
    from vaelab.runs.distributed import teardown as teardown_distributed
    from vaelab.training.loop import fit

    callbacks = [tensorboard_callback(config, run_dir)] if tensorboard else []
    epochs_before = epochs_done(run_dir) if resume else -1
    model, loop = fit(config, run_dir, resume=resume, progress=progress, callbacks=callbacks,
                      more_time=more_time)
    context = current_distributed()
    metrics = None
    evaluate = evaluate and not already_evaluated(run_dir, epochs_before)
    if evaluate:
        metrics = evaluate_run(run_dir, load, k=config.train.eval_samples,
                               examples=config.train.eval_examples, compare=compare,
                               ks=ks, compare_examples=compare_examples,
                               device=config.train.device,
                               seed=EVALUATION_SEED, progress=None if progress else False)
    teardown_distributed()
    if context is not None and not context.is_main:
        return metrics
    if metrics is not None:
        print(test_summary(metrics["test"]))
    print_run_folder(run_dir)
    return metrics


def epochs_done(run_dir: Path) -> int:
    """Epochs a run folder has recorded (its metrics.jsonl lines)."""
    from vaelab.runs.metrics_log import read_metrics

    return len(read_metrics(run_dir))


def refuse_changes_on_resume(args: argparse.Namespace, flags: dict[str, dict[str, Any]],
                             resumable: set[str], allowed: str, also: Iterable[str] = ()) -> None:
    """`--resume` keeps a run's saved config: refuse, naming each, the settings given beside it
    that would change it (`flags` by config section; train settings in `resumable` may change)."""
    given = [f"{section}.{name}" for section, names in flags.items() for name in names
             if section != "train" or name not in resumable]
    given += [*also, *(["--config"] if args.config is not None else []),
              *(["--out/--run-dir"] if getattr(args, "run_dir", None) is not None else [])]
    if given:
        raise ConfigError(f"--resume continues a run with its saved config; {', '.join(given)} "
                          f"would change it (only {allowed} may be given with it; a new --out "
                          "starts a new run)")


def already_evaluated(run_dir: Path, epochs_before: int) -> bool:
    """Whether a resumed run trained nothing new and already holds an evaluation: then there is
    nothing to evaluate again (say so instead)."""
    from vaelab.runs.evaluations import metrics_describe_the_weights

    if epochs_before < 0 or epochs_done(run_dir) != epochs_before:
        return False
    if not metrics_describe_the_weights(run_dir):  # none yet, or of weights trained further since
        return False
    print(f"no new epochs: the evaluation in {Path(run_dir) / 'metrics.json'} stands "
          "(`vaelab evaluate RUN` evaluates again)", flush=True)
    return True


def dataset_named(args: argparse.Namespace) -> str:
    """The dataset a `vaelab train` command names (--dataset, else its --config file's, else the
    default), for the name of a run folder chosen before the config is built."""
    from_file = read_config_file(args.config).get("data", {}).get("dataset") if args.config else None
    return args.dataset or from_file or EMBEDDED_NAME


def relaunch_with_torchrun(args: argparse.Namespace) -> int:
    """Run this same command under torchrun with --nproc processes, and wait for it."""
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    argv = list(args.argv)
    index = next(i for i, a in enumerate(argv) if a == "--nproc" or a.startswith("--nproc="))
    del argv[index:index + (1 if "=" in argv[index] else 2)]
    if args.run_dir is None and args.resume is None:  # every rank must agree on one folder
        argv += ["--run-dir", str(default_run_dir(dataset_named(args)))]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={args.nproc}", "-m", "vaelab", *argv]
    print("launching: " + " ".join(command), file=sys.stderr, flush=True)
    return subprocess.call(command)


def train(args: argparse.Namespace) -> int:
    """`vaelab train [--model vae]` and `vaelab train --resume RUN` of a VAE-family run."""
    from vaelab.runs.checkpoint import CheckpointError, refuse_fewer_epochs
    from vaelab.runs.distributed import launched_by_torchrun

    if args.nproc is not None and not launched_by_torchrun():
        return relaunch_with_torchrun(args)
    flags = overrides(args)
    if args.resume is not None:
        refuse_changes_on_resume(args, flags, RESUMABLE,
                                 "--epochs, --time-budget, --lr, --compile and --bf16")
        run_dir = args.resume
        if not (run_dir / CONFIG).is_file():
            raise CheckpointError(f"{run_dir} is not a vaelab run folder (no {CONFIG})")
        config = ExperimentConfig.load(run_dir / CONFIG).with_overrides(flags)
        refuse_fewer_epochs(run_dir, config.train.epochs, f"--epochs {config.train.epochs}")
        config.save(run_dir / CONFIG)
        resume = True
    else:
        from_file = read_config_file(args.config) if args.config else {}
        likelihood = flags.get("model", {}).get("likelihood",
                                                from_file.get("model", {}).get("likelihood"))
        config = base_config(args.model or "vae", likelihood).with_overrides(from_file).with_overrides(flags)
        config = train_until_budget(config, config.train.time_budget_minutes,
                                    given(args, flags, "train", "epochs"))
        refuse_unusable_data(config.data.dataset, config.data.data_dir)
        refuse_ignored_settings(config)
        note_default_dataset(args, config.data.dataset)
        note_own_validation_split(flags, config.data.dataset)
        run_dir = args.run_dir or default_run_dir(config.data.dataset)
        resume = False
    flag = budget_flag(args)
    announce_budget(config.train.time_budget_minutes, flag, config.train.epochs, not args.no_eval)
    train_and_report(config, run_dir, resume, not args.no_progress, not args.no_eval,
                     tensorboard=args.tensorboard, more_time=more_time(run_dir, flag))
    return 0


def refuse_unusable_data(dataset: str, data_dir: str | None = None) -> None:
    """Refuse data a frame model cannot train on: the pendulum (sequences), and a --data-dir in a
    folder that does not exist (a typo to name at once, not a reason to search and download; a
    new folder in an existing one is where downloads go)."""
    if data_dir is not None and not Path(data_dir).expanduser().absolute().parent.is_dir():
        raise ConfigError(f"--data-dir {data_dir}: its parent folder does not exist (data.data_dir)")
    if dataset == PENDULUM:
        raise ConfigError(f"--dataset {PENDULUM} holds image sequences: train a sequence model on it with "
                          f"`vaelab train --model ssm --dataset {PENDULUM}`")


def refuse_ignored_settings(config: ExperimentConfig) -> None:
    """Settings that would be recorded but never applied — a binarization with a likelihood of
    grey levels, mixture components for a standard normal prior — are refused rather than let
    config.json say something that did not happen."""
    if config.data.binarization in ("static", "dynamic") and config.model.likelihood != "bernoulli":
        raise ConfigError(f"--binarization {config.data.binarization} applies to a Bernoulli likelihood; "
                          f"'{config.model.likelihood}' models the grey levels as they are: drop "
                          "--binarization (data.binarization)")
    if config.model.prior == "normal" and config.model.prior_components is not None:
        raise ConfigError("--prior-components applies to the mixture priors (--prior mog or vamp); "
                          "the standard normal prior has none (model.prior_components)")


def note_own_validation_split(flags: dict[str, dict[str, Any]], dataset: str) -> None:
    """Say so when --validation-size is given for a dataset that brings its own validation split
    (which is used instead: the size would otherwise be recorded and silently not applied)."""
    from vaelab.data.catalog import SPLIT_SIZES

    own = SPLIT_SIZES.get(dataset, {}).get("valid")
    if "validation_size" in flags.get("data", {}) and own:
        print(f"vaelab: {dataset} has its own validation split of {own:,} images, used instead of "
              "--validation-size", flush=True)


def note_default_dataset(args: argparse.Namespace, dataset: str) -> None:
    """Say so when neither a flag nor a config file chose the data."""
    if args.dataset is None and args.config is None:
        print(f"vaelab: no --dataset given: training on {dataset} (the embedded 5,000-digit MNIST "
              "subset); pass --dataset mnist, fashion-mnist, a folder or an .npy file for other data",
              flush=True)


def refuse_calibrate(args: argparse.Namespace) -> None:
    """`evaluate --calibrate` of a run without a classifier: one clear error."""
    if args.calibrate:
        raise ConfigError("--calibrate fits the classifier's temperature of a semi-supervised run "
                          "(m2, m1m2, adgm, sdgm); this run has no classifier")


def evaluate(args: argparse.Namespace) -> int:
    """`vaelab evaluate RUN`: ELBO and IS log p(x) on the test split, optionally the estimator
    comparison and AIS."""
    from vaelab.evaluation.run import evaluate_run
    from vaelab.runs.evaluations import output_lines

    with_image_defaults(args)
    refuse_calibrate(args)
    if args.samples < 1 or args.compare_examples < 1 or min(args.ks) < 1 or args.examples < 0:
        raise ConfigError("-k, --ks and --compare-examples must be >= 1 and --examples >= 0")
    if args.ais_examples < 0 or args.ais_chains < 1 or args.ais_steps < 1:
        raise ConfigError("--ais-examples must be >= 0, --ais-chains and --ais-steps >= 1")
    refuse_bad_bdmc(args)
    if args.gaps is not None and (args.gaps < 2 or args.gap_steps < 1):
        raise ConfigError(f"--gaps must be >= 2 (a standard error) and --gap-steps >= 1, got "
                          f"{args.gaps} and {args.gap_steps}")
    refuse_bad_gap_flow(args)
    print_evaluation(args, lambda: evaluate_run(
        args.run, load, k=args.samples, examples=args.examples, compare=args.compare_estimators,
        ks=tuple(args.ks), compare_examples=args.compare_examples, ais_examples=args.ais_examples,
        ais_chains=args.ais_chains, ais_steps=args.ais_steps, bdmc_examples=args.bdmc or 0,
        bdmc_steps=tuple(args.bdmc_steps), bdmc_chains=args.bdmc_chains, gaps_examples=args.gaps or 0,
        gap_steps=args.gap_steps, gap_flow=args.gap_flow, device=args.device,
        seed=args.seed, progress=False if args.no_progress else None, data_dir=args.data_dir),
        lambda metrics: [test_summary(metrics["test"]), *output_lines(metrics)])
    return 0


def refuse_bad_gap_flow(args: argparse.Namespace) -> None:
    """--gap-flow belongs to --gaps N and names a flow a per-image fit knows (planar:K)."""
    from vaelab.objectives.local_flow import parse_local_flow

    if args.gap_flow is None:
        return
    if args.gaps is None:
        raise ConfigError("--gap-flow applies to --gaps N (the inference gaps on N test images)")
    try:
        parse_local_flow(args.gap_flow)
    except ValueError as error:
        raise ConfigError(f"--gap-flow: {error}") from None


def refuse_bad_bdmc(args: argparse.Namespace) -> None:
    """--bdmc N, --bdmc-steps and --bdmc-chains checked before any work, in one line."""
    from vaelab.choices import DEFAULT_BDMC_STEPS

    if args.bdmc is None:
        if tuple(args.bdmc_steps) != DEFAULT_BDMC_STEPS or args.bdmc_chains != 1:
            raise ConfigError("--bdmc-steps and --bdmc-chains apply to --bdmc N (N examples simulated "
                              "from the model)")
        return
    from vaelab.evaluation.bdmc import check_bdmc_settings

    try:
        check_bdmc_settings(args.bdmc, args.bdmc_steps, args.bdmc_chains, args.samples)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def print_evaluation(args: argparse.Namespace, run: Callable[[], dict[str, Any]],
                     lines: Callable[[dict[str, Any]], Iterable[str]]) -> dict[str, Any]:
    """Run an evaluation and print its `lines`; with --json stdout holds only the results as
    JSON (every figure, the evaluation's id and files), and the lines and progress go to stderr."""
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        metrics = run()
        for line in lines(metrics):
            print(line)
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
    return metrics


def with_image_defaults(args: argparse.Namespace) -> None:
    """`vaelab evaluate`'s -k and --examples for image runs when not given: 1,000 and 1,000."""
    args.samples = 1000 if args.samples is None else args.samples
    args.examples = 1000 if args.examples is None else args.examples


def test_summary(test: dict[str, Any]) -> str:
    """One line of held-out numbers: ELBO and IS log p(x) with their standard errors, and the
    Pareto k̂ of the importance weights (with a warning line when some should not be trusted)."""
    from vaelab.evaluation.trust import trust_text, trust_warning

    line = (f"test ELBO {test['elbo']['mean']:.2f} ± {test['elbo']['stderr']:.2f} nats; "
            f"log p(x) (IS, k={test['is_samples']}) {test['log_px_is']['mean']:.2f} ± "
            f"{test['log_px_is']['stderr']:.2f} nats over {test['examples']} test images")
    if "bits_per_dim_is" in test:
        line += f" ({test['bits_per_dim_is']:.3f} bits/dim)"
    trust = trust_text(test.get("pareto_k"))
    if trust is not None:
        line += f"; {trust}"
    warning = trust_warning(test.get("pareto_k"))
    return line if warning is None else f"{line}\n{warning}"


def sample(args: argparse.Namespace) -> int:
    """`vaelab sample RUN`: z ~ p(z) decoded to E[x | z], as a PNG grid (and .npy)."""
    if args.class_label is not None:
        raise ConfigError(f"--class needs a semi-supervised run (--model m2|m1m2|adgm|sdgm); {args.run} "
                          "has no classes")
    return sample_images(args)


def sample_images(args: argparse.Namespace, loader: RunLoader | None = None) -> int:
    """Draw --num images from a frame model's prior and write them (shared with other kinds:
    `loader` is the kind's `load`, by default this kind's)."""
    import torch

    from vaelab.evaluation.plots import save_image_grid
    from vaelab.evaluation.run import display

    if not 1 <= args.num <= 100_000:
        raise ConfigError(f"--num must be in [1, 100000], got {args.num}")
    if args.columns is not None and args.columns < 1:
        raise ConfigError(f"--columns must be >= 1, got {args.columns}")
    model, _, _ = (loader or load)(args.run, device=args.device, data=False)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)
    images = display(model, model.sample(args.num, generator)).cpu()
    out = args.out or args.run / f"samples-{args.seed}.png"
    save_image_grid(images, out, columns=args.columns)
    print(f"wrote {out}")
    save_npy(args.npy, images.numpy())
    return 0
