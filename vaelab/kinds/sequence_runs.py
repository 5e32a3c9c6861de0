"""The commands of the kinds whose runs model image sequences (ssm): `vaelab predict`,
`vaelab compare`, `vaelab report` of sequence runs and the explorer's page. The ssm kind module
re-exports them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vaelab.kinds.image_runs import refuse_mixed
from vaelab.training.config_files import ConfigError


def predict(args: argparse.Namespace) -> int:
    import torch

    from vaelab.evaluation.sequence_metrics import batch_of, mean_frame, prediction_scores, to_unit
    from vaelab.evaluation.sequence_plots import save_animation, save_strips
    from vaelab.kinds.ssm_training import load_sequence_run
    from vaelab.models.ssm_rollout import predict

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

    if Path(spec).is_file():
        return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(spec).name)
    kind, _, values = spec.partition(":")
    slug = f"{kind}-{values.replace('-', 'm').replace(',', '_')}" if values else kind
    return re.sub(r"[^A-Za-z0-9._-]+", "_", slug)


def _save_scores(path: Any, scores: dict[str, Any]) -> Any:
    """Keep a prediction's numbers beside its pictures (they were only printed)."""
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


def compare(args: argparse.Namespace) -> int:
    from vaelab.evaluation.sequence_metrics import evidence_table, format_evidence_table, sequence_evidence
    from vaelab.kinds.ssm_training import load_sequence_run

    if len(args.runs) < 2:
        raise ConfigError("compare needs at least two runs")
    refuse_mixed(args.runs, "compare", compare)
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


def report(args: argparse.Namespace) -> int:
    """`vaelab report` of sequence runs: their hypotheses, constants and causal checks (the first
    run's dt reads the torque specs)."""
    from vaelab.evaluation.interventions import STANDARD_INTERVENTIONS, load_torque
    from vaelab.kinds.ssm_experiment import SequenceExperiment
    from vaelab.kinds.ssm_training import load_sequence_run
    from vaelab.reports.sequence_report import HORIZON, write_sequence_report

    if args.sequences < 0:
        raise ConfigError(f"--sequences must be >= 0 (0 = all), got {args.sequences}")
    if args.k < 1:
        raise ConfigError(f"-k must be >= 1, got {args.k}")
    torques = tuple(args.torque) if args.torque else STANDARD_INTERVENTIONS
    refuse_mixed(args.runs, "report", report)
    dt = SequenceExperiment.load(args.runs[0] / "config.json").data.pendulum.dt
    for spec in torques:
        try:
            load_torque(spec, HORIZON, dt)
        except ValueError as error:
            raise ConfigError(f"--torque: {error}") from error
    path = write_sequence_report(args.runs, load_sequence_run, out=args.out, device=args.device,
                                 sequences=args.sequences or None, k=args.k, torques=torques, seed=args.seed,
                                 progress=False if args.no_progress else None, data_dir=args.data_dir)
    print(f"wrote {path}")
    return 0


def explore_session(run: Path, device: str = "cpu", data_dir: str | None = None) -> Any:
    """The explorer's session of a sequence run: test sequences, the filtered state, do(u)."""
    from vaelab.explore.sequence_session import SequenceSession
    from vaelab.kinds.ssm_training import load_sequence_run

    return SequenceSession(run, load_sequence_run, device=device, data_dir=data_dir)


__all__ = ["compare", "explore_session", "predict", "report"]
