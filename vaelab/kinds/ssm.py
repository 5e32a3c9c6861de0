"""State-space models of image sequences as a kind (`--model ssm`, e.g. on `--dataset pendulum`).

Config: `SequenceExperiment` ([model] = SSMConfig, [data] = the simulator's settings, [train]);
builder `vaelab.models.ssm.build_ssm`; data `vaelab.data.pendulum`; objective the sequential ELBO
or IWAE bound; training `vaelab.kinds.ssm_training.fit_sequences` (the one loop, with sequence
windows as its batches); evaluation `vaelab.evaluation.sequence_run.evaluate_sequence_run`
(particle-filter evidence, probe of the physical state, prediction). Its config.json says
"kind": "ssm". The extra commands `simulate`, `predict` and `compare` live in
vaelab/cli/sequence_commands.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaelab.choices import EVALUATION_SEED
from vaelab.data.pendulum_config import parse_setting
from vaelab.kinds.common import print_run_folder, save_npy
from vaelab.kinds.flags import (
    FlagTable,
    add_flags,
    common_flags,
    common_option,
    defaults,
    flags_of,
    for_kind,
)
from vaelab.kinds.flags import overrides as flag_overrides
from vaelab.kinds.sequence_runs import compare, explore_session, predict, report  # noqa: F401 - commands
from vaelab.kinds.ssm_experiment import (
    SequenceDataConfig,
    SequenceExperiment,
    SequenceTrainConfig,
    is_sequence_run,
)
from vaelab.kinds.vae import (
    RESUMABLE,
    already_evaluated,
    announce_budget,
    budget_flag,
    epochs_done,
    given,
    more_time,
    print_evaluation,
    refuse_calibrate,
    refuse_changes_on_resume,
    train_until_budget,
)
from vaelab.models.ssm_config import SSMConfig
from vaelab.runs.files import CONFIG
from vaelab.training.config import ConfigError
from vaelab.training.config_files import read_config_file
from vaelab.training.run_folder import default_run_dir

#: --input: which torque drives the state in the hypothesis
INPUTS = ("recorded", "placebo", "none")

#: the config sections of a sequence run, whose keys the `vaelab train` flags set
SECTIONS = {"model": SSMConfig, "data": SequenceDataConfig, "train": SequenceTrainConfig}
#: shared flags whose setting a sequence model's config names otherwise: --hidden sets the
#: decoder's widths
RENAMED = {"hidden": "decoder_hidden"}


def shared_flags() -> tuple[FlagTable, list[str]]:
    """(the shared `vaelab train` flags a sequence model uses, those it has no setting for)."""
    return for_kind(common_flags(), SECTIONS, RENAMED)


def own_flags() -> FlagTable:
    """The flags only sequence models have."""
    return {**flags_of(SSMConfig, "model"), **{dest: where for dest, where in
                                               flags_of(SequenceTrainConfig, "train").items()
                                               if dest not in common_flags()}}


def _pendulum_setting(text: str) -> tuple[str, Any]:
    """KEY=VALUE for a PendulumConfig field, the value parsed as the field's type."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. damping=0.2, got {text!r}")
    try:
        return key, parse_setting(key, value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def flag_defaults(model: str) -> dict[str, Any]:
    """Each `vaelab train` flag's default for --model ssm."""
    return defaults(SequenceExperiment().to_dict(), {**shared_flags()[0], **own_flags()})


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """The `vaelab train` flags of state-space models (used with --model ssm)."""
    g = parser.add_argument_group("sequence models (--model ssm)")
    add_flags(g, SSMConfig, "model")
    add_flags(g, SequenceTrainConfig, "train")
    g.add_argument("--pendulum", type=_pendulum_setting, action="append", metavar="KEY=VALUE",
                   help="a simulation setting, e.g. --pendulum damping=0.2 --pendulum force=sine")
    g.add_argument("--input", choices=INPUTS,
                   help="the hypothesis about the recorded torque: it drives the state (recorded), the "
                        "torque of another sequence drives it (placebo), or nothing does (none) "
                        "(default: recorded)")


def sequence_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    usable, unused = shared_flags()
    given = [common_option(dest) for dest in [*unused, "nproc"] if getattr(args, dest, None) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: not used by sequence models (--model ssm); set the data "
                          "with --pendulum KEY=VALUE, e.g. --pendulum image_size=16")
    out = flag_overrides(args, {**usable, **own_flags()})
    if args.pendulum:
        out.setdefault("data", {})["pendulum"] = dict(args.pendulum)
    if getattr(args, "input", None) is not None:
        out.setdefault("model", {})["driven"] = args.input != "none"
        out.setdefault("data", {})["torque"] = "placebo" if args.input == "placebo" else "recorded"
    if out.get("model", {}).get("transition") == "none":
        out["model"].setdefault("guide", "frame")  # also over a saved config's recurrent guide
        out["model"].setdefault("combiner", "frame")
    return out


def train(args: argparse.Namespace) -> int:
    """`vaelab train --model ssm ...`: train, evaluate, print the headline numbers."""
    from vaelab.evaluation.sequence_run import evaluate_sequence_run, summary_lines
    from vaelab.kinds.ssm_training import fit_sequences
    from vaelab.runs.checkpoint import CheckpointError, refuse_fewer_epochs
    from vaelab.runs.distributed import main_process_after_training

    overrides = sequence_overrides(args)
    if args.resume is not None:
        refuse_changes_on_resume(args, overrides, RESUMABLE,
                                 "--epochs, --time-budget (--minutes), --lr, --compile and --bf16")
        run_dir = args.resume
        if not is_sequence_run(run_dir):
            raise CheckpointError(f"{run_dir} is not a sequence-model run folder (no {CONFIG} of kind ssm)")
        config = SequenceExperiment.load(run_dir / CONFIG).with_overrides(overrides)
        refuse_fewer_epochs(run_dir, config.train.epochs, f"--epochs {config.train.epochs}")
        config.save(run_dir / CONFIG)
        resume = True
    else:
        base = SequenceExperiment.from_dict(read_config_file(args.config)) if args.config \
            else SequenceExperiment()
        config = base.with_overrides(overrides)
        config = train_until_budget(config, config.train.time_budget_minutes,
                                    given(args, overrides, "train", "epochs"))
        run_dir = args.run_dir or default_run_dir(f"{config.data.dataset}-{config.model.transition}")
        resume = False
    epochs_before = epochs_done(run_dir) if resume else -1
    flag = budget_flag(args)
    announce_budget(config.train.time_budget_minutes, flag, config.train.epochs, not args.no_eval)
    fit_sequences(config, run_dir, resume=resume, progress=not args.no_progress,
                  more_time=more_time(run_dir, flag))
    if not main_process_after_training():
        return 0
    if not args.no_eval and not already_evaluated(run_dir, epochs_before):
        metrics = evaluate_sequence_run(run_dir, load, k=config.train.eval_samples,
                                        sequences=config.train.eval_examples, device=config.train.device,
                                        seed=EVALUATION_SEED, progress=False if args.no_progress else None)
        for line in summary_lines(metrics):
            print(line)
    print_run_folder(run_dir)
    return 0


def sample(args: argparse.Namespace) -> int:
    """`vaelab sample RUN` for a sequence run: new sequences from scratch under sampled forces."""
    import numpy as np
    import torch

    from vaelab.data.pendulum_physics import sample_forces
    from vaelab.evaluation.sequence_metrics import to_unit
    from vaelab.evaluation.sequence_plots import save_animation, save_strips
    from vaelab.kinds.ssm_training import load_sequence_run
    from vaelab.models.ssm_rollout import generate

    if not 1 <= args.num <= 10_000:
        raise ConfigError(f"--num must be in [1, 10000], got {args.num}")
    model, config, _ = load_sequence_run(args.run, device=args.device, data=False)
    data = config.data.pendulum
    steps = data.train_length
    rng = np.random.default_rng(args.seed)
    actions = torch.from_numpy(sample_forces(data.force, args.num, steps, data.dt, rng, data.max_torque))
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)
    frames, _ = generate(model, actions[..., None].to(device), generator)
    frames = to_unit(model, frames).cpu()
    out = args.out or args.run / f"samples-{args.seed}.png"
    save_strips(list(frames), out, every=max(1, steps // 25))
    gif = Path(out).with_suffix(".gif")
    save_animation(list(frames[:8]), gif)
    print(f"wrote {out}\nwrote {gif}")
    save_npy(args.npy, frames.numpy())
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """`vaelab evaluate RUN` of a sequence run: the sequential ELBO, IWAE_k and the particle
    filter's evidence per frame, the probe of the physical state and the prediction scores."""
    from vaelab.evaluation.sequence_run import evaluate_sequence_run, summary_lines
    from vaelab.runs.evaluations import output_lines

    refuse_calibrate(args)
    if args.compare_estimators or args.ais_examples or args.bdmc is not None:
        raise ConfigError("--compare-estimators, --ais-examples and --bdmc are for frame models; a sequence "
                          "run reports ELBO, IWAE and particle-filter evidence (see also `vaelab compare`)")
    if args.samples is None or args.examples is None:  # the run's own evaluation settings
        saved = SequenceExperiment.load(args.run / CONFIG).train
        args.samples = saved.eval_samples if args.samples is None else args.samples
        args.examples = saved.eval_examples if args.examples is None else args.examples
    if args.samples < 1 or args.examples < 0:
        raise ConfigError("-k must be >= 1 and --examples >= 0")
    print_evaluation(args, lambda: evaluate_sequence_run(
        args.run, load, k=args.samples, sequences=args.examples, device=args.device, seed=args.seed,
        progress=False if args.no_progress else None, data_dir=args.data_dir),
        lambda metrics: [*summary_lines(metrics), *output_lines(metrics)])
    return 0


def load(run_dir: Path, best: bool = True, device: str = "cpu",
         data: bool = True, data_dir: str | None = None) -> tuple[Any, SequenceExperiment, Any]:
    """(model, config, splits) of a sequence run; `data=False`: the config alone, splits None."""
    from vaelab.kinds.ssm_training import load_sequence_run

    return load_sequence_run(run_dir, best=best, device=device, data=data, data_dir=data_dir)
