"""Sub-commands for sequence models: simulate, train --model ssm, predict, compare, sample (ssm runs).

`vaelab simulate pendulum --out DIR` writes the dataset; `vaelab train --model ssm` trains a
state-space model (commands.py dispatches here); `vaelab predict RUN` filters context frames and
rolls the model forward; `vaelab compare RUN_A RUN_B ...` prints the evidence table;
`vaelab sample RUN` on a sequence run draws new sequences.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab.cli.common import default_run_dir, print_run_folder, save_npy
from vaelab.data.pendulum import PENDULUM, PendulumConfig, generate_splits, save_splits
from vaelab.data.pendulum_physics import sample_forces
from vaelab.evaluation.sequence_metrics import (
    batch_of,
    evidence_table,
    format_evidence_table,
    mean_frame,
    prediction_scores,
    sequence_evidence,
    to_unit,
)
from vaelab.evaluation.sequence_plots import save_animation, save_strips
from vaelab.evaluation.sequence_run import evaluate_sequence_run, summary_lines
from vaelab.models.ssm import GUIDES, TRANSITIONS
from vaelab.models.ssm_rollout import generate, predict
from vaelab.training.checkpoint import CONFIG, CheckpointError
from vaelab.training.config import ConfigError
from vaelab.training.config_files import read_config_file
from vaelab.training.sequence_loop import (
    SequenceExperiment,
    fit_sequences,
    is_sequence_run,
    load_sequence_run,
)

MODELS = ("vae", "ssm")

# `vaelab train` flags that also mean something for a sequence model: dest -> (section, field)
SHARED_TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "dataset": ("data", "dataset"),
    "data_dir": ("data", "data_dir"),
    "train_limit": ("data", "train_limit"),
    "latent_dim": ("model", "latent_dim"),
    "hidden": ("model", "decoder_hidden"),
    "likelihood": ("model", "likelihood"),
    "activation": ("model", "activation"),
    "architecture": ("model", "architecture"),
    "objective": ("train", "objective"),
    "samples": ("train", "samples"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "learning_rate"),
    "kl_warmup": ("train", "kl_warmup_steps"),
    "grad_clip": ("train", "grad_clip"),
    "seed": ("train", "seed"),
    "device": ("train", "device"),
    "eval_samples": ("train", "eval_samples"),
    "eval_examples": ("train", "eval_sequences"),
    "time_budget": ("train", "minutes"),
    "compile": ("train", "compile"),
    "precision": ("train", "precision"),
}
SSM_FLAGS: dict[str, tuple[str, str]] = {
    "transition": ("model", "transition"),
    "guide": ("model", "guide"),
    "velocity_correction": ("model", "velocity_correction"),
    "noise_ceiling": ("model", "noise_ceiling"),
    "minutes": ("train", "minutes"),
    "free_bits": ("train", "free_bits"),
    "window": ("train", "window"),
    "init_from": ("train", "init_from"),
    "init_transition": ("train", "init_transition"),
}


def _pendulum_setting(text: str) -> tuple[str, Any]:
    """KEY=VALUE for a PendulumConfig field, the value parsed as the field's type."""
    key, sep, value = text.partition("=")
    types = {f.name: f.type for f in fields(PendulumConfig)}
    if not sep or key not in types:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY one of {', '.join(types)}, "
                                         f"got {text!r}")
    kind = {"float": float, "int": int, "str": str}[str(types[key])]
    try:
        return key, kind(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"pendulum.{key}: expected {types[key]}, got {value!r}") from error


def add_sequence_train_flags(parser: argparse.ArgumentParser) -> None:
    """The `vaelab train` flags of state-space models (used with --model ssm)."""
    g = parser.add_argument_group("sequence models (--model ssm)")
    g.add_argument("--transition", choices=TRANSITIONS,
                   help="the hypothesis: pendulum physics, undamped physics, small-angle physics, a "
                        "generic network, or none (a frame-wise VAE)")
    g.add_argument("--guide", choices=GUIDES, help="filter (forward RNN), smooth (backward RNN), frame")
    g.add_argument("--velocity-correction", action=argparse.BooleanOptionalAction,
                   help="let the guide learn a correction to its finite-difference velocity (off by "
                        "default: it co-adapts with the physics and biases g/L)")
    g.add_argument("--noise-ceiling", type=float, nargs="+", metavar="SIGMA",
                   help="largest process-noise σ per latent dimension (physics: cos θ, sin θ, ω), the "
                        "same for every rule compared by evidence, e.g. --noise-ceiling 0.003 0.003 0.01")
    g.add_argument("--minutes", type=float, help="time budget in minutes (0 = none)")
    g.add_argument("--free-bits", type=float, help="free bits per step and latent dimension (nats)")
    g.add_argument("--window", type=int, help="train on random windows of this many frames (0 = whole)")
    g.add_argument("--init-from", metavar="RUN",
                   help="start from a sequence run's weights (every tensor whose name and shape match, "
                        "except the transition's own): test another rule with the same observation model")
    g.add_argument("--init-transition", action=argparse.BooleanOptionalAction,
                   help="with --init-from, copy the transition too: go on with the same hypothesis under "
                        "new settings (e.g. a tighter --noise-ceiling)")
    g.add_argument("--pendulum", type=_pendulum_setting, action="append", metavar="KEY=VALUE",
                   help="a simulation setting, e.g. --pendulum damping=0.2 --pendulum force=sine")


def wants_sequence_model(args: argparse.Namespace) -> bool:
    """`vaelab train` should train a state-space model: --model ssm, or resuming one."""
    if getattr(args, "model", "vae") == "ssm":
        return True
    return args.resume is not None and is_sequence_run(args.resume)


def _sequence_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from vaelab.cli.commands import TRAIN_FLAGS  # imported here: commands imports this module

    vae_only = [dest for dest in TRAIN_FLAGS if dest not in SHARED_TRAIN_FLAGS]
    vae_only += ["nproc"]
    given = [f"--{name.replace('_', '-')}" for name in vae_only if getattr(args, name, None) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: not used by sequence models (--model ssm); set the data "
                          "with --pendulum KEY=VALUE, e.g. --pendulum image_size=16")
    out: dict[str, dict[str, Any]] = {}
    for dest, (section, name) in {**SHARED_TRAIN_FLAGS, **SSM_FLAGS}.items():
        value = getattr(args, dest, None)
        if value is not None:
            out.setdefault(section, {})[name] = value
    if args.pendulum:
        out.setdefault("data", {})["pendulum"] = dict(args.pendulum)
    if out.get("model", {}).get("transition") == "none":
        out["model"].setdefault("guide", "frame")
        out["model"].setdefault("combiner", "frame")
    return out


def run_sequence_train(args: argparse.Namespace) -> int:
    """`vaelab train --model ssm ...`: train, evaluate, print the headline numbers."""
    overrides = _sequence_overrides(args)
    if args.resume is not None:
        allowed = {"epochs", "minutes", "compile", "precision"}
        if args.config is not None or set(overrides) - {"train"} or set(overrides.get("train", {})) - allowed:
            raise ConfigError("--resume continues a run with its saved config; only --epochs, "
                              "--minutes (--time-budget), --compile and --bf16 may be given with it")
        run_dir = args.resume
        if not is_sequence_run(run_dir):
            raise CheckpointError(f"{run_dir} is not a sequence-model run folder (no {CONFIG} of kind ssm)")
        config = SequenceExperiment.load(run_dir / CONFIG).with_overrides(overrides)
        config.save(run_dir / CONFIG)
        resume = True
    else:
        base = SequenceExperiment.from_dict(read_config_file(args.config)) if args.config \
            else SequenceExperiment()
        config = base.with_overrides(overrides)
        run_dir = args.run_dir or default_run_dir(f"{config.data.dataset}-{config.model.transition}")
        resume = False
    fit_sequences(config, run_dir, resume=resume, progress=not args.no_progress)
    if not args.no_eval:
        metrics = evaluate_sequence_run(run_dir, k=config.train.eval_samples,
                                        sequences=config.train.eval_sequences, device=config.train.device,
                                        seed=config.train.seed, progress=False if args.no_progress else None)
        for line in summary_lines(metrics):
            print(line)
    print_run_folder(run_dir)
    return 0


def run_sequence_sample(args: argparse.Namespace) -> int:
    """`vaelab sample RUN` for a sequence run: new sequences from scratch under sampled forces."""
    if not 1 <= args.num <= 10_000:
        raise ConfigError(f"--num must be in [1, 10000], got {args.num}")
    model, config, splits = load_sequence_run(args.run, device=args.device)
    data = config.data.pendulum
    steps = splits["train"].length
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


def add_simulate(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="simulate a dataset of image sequences (the pendulum)",
        description="Simulate θ̈ = −(g/L) sin θ − b θ̇ + u(t) with RK4, render 32×32 anti-aliased frames, "
                    "and write every split (uint8 frames, actions u, true states θ, ω, masks) with the "
                    "parameters to DIR/pendulum.npz, plus DIR/preview.png.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("system", choices=(PENDULUM,), help="what to simulate")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    defaults = PendulumConfig()
    for f in fields(PendulumConfig):
        kind = {"float": float, "int": int, "str": str}[str(f.type)]
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=getattr(defaults, f.name))
    p.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    config = PendulumConfig(**{f.name: getattr(args, f.name) for f in fields(PendulumConfig)})
    started = time.perf_counter()
    splits = generate_splits(config)
    args.out.mkdir(parents=True, exist_ok=True)
    path = save_splits(args.out / f"{PENDULUM}.npz", splits, config)
    train = splits["train"]
    count = min(8, len(train))
    frames = train.frames[:count, : min(25, train.length)].float() / 255.0
    preview = save_strips(list(frames), args.out / "preview.png")
    for name, data in splits.items():
        print(f"{name}: {len(data)} sequences × {data.length} frames of {data.frame_shape}")
    print(f"simulated in {time.perf_counter() - started:.1f} s\nwrote {path}\nwrote {preview}")
    return 0


def add_predict(sub: Any) -> None:
    p = sub.add_parser(
        "predict", help="filter context frames, then roll a sequence model forward",
        description="Filter the first --context frames of test sequences, roll the transition's mean "
                    "forward for --horizon steps under the observed actions, and compare with the truth: "
                    "valid prediction time (share of the horizon before the per-frame MSE first exceeds "
                    "0.01) beside the copy-last-frame and mean-frame baselines. Writes a PNG of frame "
                    "strips and an animated GIF (truth, prediction).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder written by `vaelab train --model ssm`")
    p.add_argument("--context", type=int, default=10, help="frames filtered before predicting")
    p.add_argument("--horizon", type=int, default=90, help="frames predicted")
    p.add_argument("--sequences", type=int, default=6, help="test sequences drawn in the pictures")
    p.add_argument("--out", type=Path, help="output folder (default RUN)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    model, _, splits = load_sequence_run(args.run, device=args.device)
    test = splits["test"]
    if not 1 <= args.context < test.length:
        raise ConfigError(f"--context must be in [1, {test.length - 1}], got {args.context}")
    if not 1 <= args.horizon <= test.length - args.context:
        raise ConfigError(f"--horizon must be in [1, {test.length - args.context}] with --context "
                          f"{args.context} (test sequences have {test.length} frames), got {args.horizon}")
    if args.sequences < 1:
        raise ConfigError(f"--sequences must be >= 1, got {args.sequences}")
    scores = prediction_scores(model, test, mean_frame(splits["train"]), args.context, args.horizon)
    out = args.out or args.run
    out.mkdir(parents=True, exist_ok=True)
    part = test.subset(slice(0, min(args.sequences, len(test)))).window(0, args.context + args.horizon)
    predicted, _ = predict(model, batch_of(part, model.data_kind, device=next(model.parameters()).device),
                           args.context)
    truth = part.frames.float() / 255.0
    shown = torch.cat([truth[:, :args.context], to_unit(model, predicted).cpu()], 1)
    rows = [r for i in range(len(part)) for r in (truth[i], shown[i])]
    strip = save_strips(rows, out / f"predict-c{args.context}-h{args.horizon}.png", every=2)
    gif = save_animation(rows, out / f"predict-c{args.context}-h{args.horizon}.gif")
    print(f"valid prediction time over {len(test)} test sequences ({args.context} context frames, "
          f"{args.horizon} predicted; MSE threshold 0.01):")
    for name, s in scores.items():
        print(f"  {name:<11} {s['valid_prediction_time']:.3f} ± {s['valid_prediction_time_stderr']:.3f}  "
              f"(mean MSE {s['mse']:.4f})")
    print(f"wrote {strip}\nwrote {gif}")
    return 0


def add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare", help="compare sequence models by estimated evidence log p(x)",
        description="Estimate each model's evidence on the same held-out sequences: the sequential ELBO "
                    "and the IWAE bound with k samples over whole sequences, in nats per frame, with "
                    "standard errors and the paired difference to the best model. Runs must share "
                    "their test data.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="two or more sequence-model runs")
    p.add_argument("-k", "--samples", type=int, default=100, help="importance samples per sequence")
    p.add_argument("--sequences", type=int, default=100, help="test sequences (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the table as JSON")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ConfigError("compare needs at least two runs")
    if args.samples < 1 or args.sequences < 0:
        raise ConfigError("-k must be >= 1 and --sequences >= 0")
    evidence, constants, data_config = {}, {}, None
    for run in args.runs:
        model, config, splits = load_sequence_run(run, device=args.device)
        if data_config is None:
            data_config = config.data.pendulum
        elif config.data.pendulum != data_config:
            raise ConfigError(f"{run} was trained on different data than {args.runs[0]}; evidence is only "
                              "comparable on the same test sequences")
        name = f"{Path(run).name} ({config.model.transition})"
        n = None if args.sequences == 0 else args.sequences
        evidence[name] = sequence_evidence(model, splits["test"], args.samples, n, seed=args.seed,
                                           progress=False if args.no_progress else None)
        constants[name] = model.physical_constants()
    rows = evidence_table(evidence)
    print(format_evidence_table(rows, args.samples, constants))
    if args.json:
        args.json.write_text(json.dumps({"k": args.samples, "rows": [r.as_dict() for r in rows],
                                         "constants": constants}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
