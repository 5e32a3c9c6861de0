"""The commands only sequence models have: simulate, predict, compare.

`vaelab simulate pendulum --out DIR` writes the dataset; `vaelab predict RUN` filters context
frames and rolls the model forward; `vaelab compare RUN_A RUN_B ...` prints the evidence table.
Training, evaluating and sampling a sequence run go through the common commands and the ssm kind
(vaelab/kinds/ssm.py).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

from vaelab.cli.common import HelpFormatter, add_data_dir
from vaelab.data.pendulum_config import PENDULUM, PendulumConfig, parse_setting
from vaelab.settings import declared
from vaelab.training.config import ConfigError


def add_simulate(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="simulate a dataset of image sequences (the pendulum)",
        description="Simulate θ̈ = −(g/L) sin θ − b θ̇ + u(t) with RK4, render 32×32 anti-aliased frames, "
                    "and write every split (uint8 frames, actions u, true states θ, ω, masks) with the "
                    "parameters to DIR/pendulum.npz, plus DIR/preview.png.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("system", choices=(PENDULUM,), help="what to simulate")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    defaults = PendulumConfig()
    for name, setting in declared(PendulumConfig).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=partial(_setting, name),
                       default=getattr(defaults, name), metavar=setting.hint.__name__.upper(),
                       help=setting.help.text if setting.help else name)
    p.set_defaults(handler=run_simulate)


def _setting(key: str, text: str) -> Any:
    try:
        return parse_setting(key, text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def run_simulate(args: argparse.Namespace) -> int:
    from vaelab.data.pendulum import generate_splits, save_splits
    from vaelab.evaluation.sequence_plots import save_strips

    config = PendulumConfig(**{f.name: getattr(args, f.name) for f in fields(PendulumConfig)})
    started = time.perf_counter()
    total = sum(getattr(config, f"{split}_sequences") for split in ("train", "valid", "test"))
    print(f"simulating {total:,} pendulum sequences (train, valid, test) -> {args.out} ...", flush=True)
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
        formatter_class=HelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder written by `vaelab train --model ssm`")
    p.add_argument("--context", type=int, default=10, help="frames filtered before predicting")
    p.add_argument("--horizon", type=int, default=90, help="frames predicted")
    p.add_argument("--sequences", type=int, default=6, help="test sequences drawn in the pictures")
    p.add_argument("--torque", metavar="SPEC",
                   help="impose a torque instead of the recorded one, do(u): constant:V, sine:A,F "
                        "(A rad/s², F Hz), none, or a file (.npy/.txt/.csv) of --horizon values; the "
                        "model's rollout is compared with the simulator's from the true state under "
                        "the same torque")
    p.add_argument("--out", type=Path, help="output folder (default RUN)")
    p.add_argument("--device", default="cpu", help="cpu, auto or cuda[:N]")
    add_data_dir(p, sequences=True)
    p.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    import torch

    from vaelab.evaluation.sequence_metrics import batch_of, mean_frame, prediction_scores, to_unit
    from vaelab.evaluation.sequence_plots import save_animation, save_strips
    from vaelab.models.ssm_rollout import predict
    from vaelab.training.sequence_loop import load_sequence_run

    model, config, splits = load_sequence_run(args.run, device=args.device, data_dir=args.data_dir)
    test = splits["test"]
    if not 1 <= args.context < test.length:
        raise ConfigError(f"--context must be in [1, {test.length - 1}], got {args.context}")
    if not 1 <= args.horizon <= test.length - args.context:
        raise ConfigError(f"--horizon must be in [1, {test.length - args.context}] with --context "
                          f"{args.context} (test sequences have {test.length} frames), got {args.horizon}")
    if args.sequences < 1:
        raise ConfigError(f"--sequences must be >= 1, got {args.sequences}")
    if args.torque is not None:
        return _predict_intervention(args, model, config, test)
    scores = prediction_scores(model, test, mean_frame(splits["train"]), args.context, args.horizon)
    out = args.out or args.run
    out.mkdir(parents=True, exist_ok=True)
    part = test.subset(slice(0, min(args.sequences, len(test)))).window(0, args.context + args.horizon)
    predicted, _ = predict(model, batch_of(part, model.data_kind, device=next(model.parameters()).device),
                           args.context)
    truth = part.frames.float() / 255.0
    shown = torch.cat([truth[:, :args.context], to_unit(model, predicted).cpu()], 1)
    rows = [r for i in range(len(part)) for r in (truth[i], shown[i])]
    name = f"predict-c{args.context}-h{args.horizon}"
    strip = save_strips(rows, out / f"{name}.png", every=2)
    gif = save_animation(rows, out / f"{name}.gif")
    scores_file = _save_scores(out / f"{name}.json", {"context": args.context, "horizon": args.horizon,
                                                      "sequences": len(test), "scores": scores})
    print(f"valid prediction time over {len(test)} test sequences ({args.context} context frames, "
          f"{args.horizon} predicted; MSE threshold 0.01):")
    for name, s in scores.items():
        print(f"  {name:<11} {s['valid_prediction_time']:.3f} ± {s['valid_prediction_time_stderr']:.3f}  "
              f"(mean MSE {s['mse']:.4f})")
    print(f"wrote {strip}\nwrote {gif}\nwrote {scores_file}")
    return 0


def _torque_slug(spec: str) -> str:
    """A file-name part naming a --torque SPEC, one per spec: constant-3, constant-m3 (for −3),
    sine-4_0.5, none, or a torque file's name."""
    import re
    from pathlib import Path

    if Path(spec).is_file():
        return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(spec).name)
    kind, _, values = spec.partition(":")
    slug = f"{kind}-{values.replace('-', 'm').replace(',', '_')}" if values else kind
    return re.sub(r"[^A-Za-z0-9._-]+", "_", slug)


def _save_scores(path: Any, scores: dict[str, Any]) -> Any:
    """Keep a prediction's numbers beside its pictures (they were only printed)."""
    import json

    from vaelab.atomic_files import atomic_write_text

    atomic_write_text(path, json.dumps(scores, indent=2, default=float) + "\n")
    return path


def _predict_intervention(args: argparse.Namespace, model: Any, config: Any, test: Any) -> int:
    """`vaelab predict RUN --torque SPEC`: the model's rollout under do(u) against the simulator's."""
    import torch

    from vaelab.evaluation.interventions import intervene, load_torque
    from vaelab.evaluation.sequence_plots import save_animation, save_strips

    pendulum = config.data.pendulum
    try:
        torque = load_torque(args.torque, args.horizon, pendulum.dt)
    except ValueError as error:
        raise ConfigError(f"--torque: {error}") from error
    result = intervene(model, test, pendulum, torque, args.context)
    summary = result.summary()
    out = args.out or args.run
    out.mkdir(parents=True, exist_ok=True)
    shown = min(args.sequences, len(test))
    truth = [torch.cat([test.frames[i, :args.context].float() / 255.0, result.truth_frames[i]]) for i in
             range(shown)]
    model_rows = [torch.cat([test.frames[i, :args.context].float() / 255.0, result.model_frames[i]]) for i in
                  range(shown)]
    rows = [r for pair in zip(truth, model_rows, strict=True) for r in pair]
    name = f"intervene-{_torque_slug(args.torque)}-c{args.context}-h{args.horizon}"  # one set per torque
    strip = save_strips(rows, out / f"{name}.png", every=2)
    gif = save_animation(rows, out / f"{name}.gif")
    scores_file = _save_scores(out / f"{name}.json", {"torque": args.torque, "context": args.context,
                                                      "horizon": args.horizon, **summary})
    mse = summary["mse_per_step"]
    print(f"do(u = {args.torque}) from frame {args.context} of {summary['sequences']} test sequences, "
          f"{args.horizon} steps, against the simulator from the true state:")
    print(f"  valid prediction time {summary['valid_prediction_time']:.3f} ± "
          f"{summary['valid_prediction_time_stderr']:.3f} (MSE threshold 0.01)")
    marks = sorted({0, len(mse) // 4, len(mse) // 2, len(mse) - 1})
    print("  pixel MSE at step " + ", ".join(f"{t + 1}: {mse[t]:.4f}" for t in marks))
    print(f"wrote {strip}\nwrote {gif}\nwrote {scores_file}")
    return 0


def add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare", help="compare sequence models by estimated evidence log p(x)",
        description="Estimate each model's evidence on the same held-out sequences: the sequential ELBO "
                    "and the IWAE bound with k samples over whole sequences, in nats per frame, with "
                    "standard errors and the paired difference to the best model. Runs must share "
                    "their test data.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="two or more sequence-model runs")
    p.add_argument("-k", "--samples", type=int, default=100,
                   help="importance samples (ELBO, IWAE) and particles (SMC) per sequence")
    p.add_argument("--sequences", type=int, default=100, help="test sequences (0 = all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the importance samples and particles")
    p.add_argument("--json", type=Path, help="also write the table as JSON")
    p.add_argument("--device", default="cpu", help="cpu, auto or cuda[:N]")
    add_data_dir(p, sequences=True)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from vaelab.evaluation.sequence_metrics import evidence_table, format_evidence_table, sequence_evidence
    from vaelab.training.sequence_loop import load_sequence_run

    if len(args.runs) < 2:
        raise ConfigError("compare needs at least two runs")
    if args.samples < 1 or args.sequences < 0:
        raise ConfigError("-k must be >= 1 and --sequences >= 0")
    evidence, constants, data_config = {}, {}, None
    for run in args.runs:
        model, config, splits = load_sequence_run(run, device=args.device, data_dir=args.data_dir)
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
