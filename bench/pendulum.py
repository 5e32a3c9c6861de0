"""Pendulum from pixels: a physics-structured state-space model against wrong-rule models.

For each seed, trains on the default `pendulum` dataset (2,000 × 50 frames, 32×32), each under the
same CPU time budget:

    pendulum   the true rule: θ̈ = −(g/L) sin θ − b ω + k u with learned g/L, b, k (RK4 in the latent)
    undamped   the same without damping (b = 0): a wrong rule
    generic    a DMM gated network transition in the same 3-d latent and guide: no rule
    framewise  transition none, frame-wise guide: a VAE on single frames (the baseline for nats/frame)
    dkf        unstructured: generic transition, MLP frame encoder (no keypoint), emitter reading all of
               z — a DKF/DMM-style model, the baseline for the probe

and reports, on the test split (500 × 100 frames):

- probe R² (linear, filtering posterior means -> sin θ, cos θ, ω; DVBF Table 1's protocol);
- valid prediction time after 10 context frames over the 90-step horizon, beside copy-last-frame
  and mean-frame baselines, and for the physics models its oracles (the true state through the
  learned emitter; the learned transition from the true state; true physics from the filtered
  state), which say whether the emitter, the constants or the state estimate limit it;
- g/L and b: learned, and regressed from finite-difference accelerations of the probed states;
- evidence: ELBO, IWAE_k (k = 100 over whole sequences) and the particle filter's SMC_k in nats per
  frame on the first `--eval-sequences` test sequences, with paired differences to the true-rule
  model.

    python bench/pendulum.py --minutes 6 --seeds 0,1,2 --out bench/results/pendulum

With `--evidence` the bench compares the rules by evidence alone, with one observation model and
one noise model for all (see bench/README.md, "Evidence"):

1. base: the `--base-rule` hypothesis (default `undamped`, a WRONG rule, so that whatever the shared
   observation model favours is not the true rule) trained `--minutes` from scratch;
2. adapt: every rule in `--rules` warm-started from the base — emitter, frame encoder and guide
   copied, its transition fresh — and trained `--adapt-epochs` epochs (the same number of steps
   for every rule, not the same time: a cheap transition would otherwise get more steps) under
   the physics rules' own loose noise ceiling `--adapt-noise-ceiling`;
3. tighten: each continues with its own transition under the process-noise ceiling
   `--noise-ceiling` (the same for every rule; the pendulum data have no process noise) for
   `--tight-epochs` epochs;

then the test evidence of the tightened models: ELBO, IWAE_k and the particle filter's SMC_k, in
nats per frame, with paired per-sequence differences to the true rule. All use the smoothing
guide (`--evidence-guide`): a bound on log p(x) may use any guide, and one that sees the next
frame measures the velocity at t = 1, which a filtering guide cannot.

    python bench/pendulum.py --evidence --minutes 5 --seeds 0,1,2 --out bench/results/pendulum-evidence
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from vaelab.evaluation.interventions import STANDARD_INTERVENTIONS
from vaelab.evaluation.sequence_metrics import (
    constants_from_probe,
    constants_from_truth,
    evidence_table,
    format_evidence_table,
    mean_frame,
    prediction_scores,
    probe,
    sequence_evidence,
)
from vaelab.evaluation.sequence_oracles import prediction_oracles
from vaelab.kinds.ssm_experiment import SequenceExperiment
from vaelab.kinds.ssm_training import build_sequence_model, fit_sequences, load_sequence_run
from vaelab.models.ssm_config import SSMConfig

HYPOTHESES: dict[str, dict[str, Any]] = {
    "pendulum": {"transition": "pendulum"},
    "undamped": {"transition": "undamped"},
    "small-angle": {"transition": "small-angle"},
    "generic": {"transition": "generic", "readout": "circle"},
    "framewise": {"transition": "none", "guide": "frame", "combiner": "frame"},
    "dkf": {"transition": "generic", "architecture": "mlp", "readout": "full"},
}
#: training budget of each model as a share of --minutes (the baselines get half)
BUDGET_SHARE = {"pendulum": 1.0, "undamped": 1.0, "small-angle": 1.0, "generic": 1.0, "framewise": 0.5,
                "dkf": 0.5}
ANCHOR = {"source": "Karl et al. 2017 (DVBF), Table 1, pendulum, linear probe R²",
          "dvbf": {"sin_theta": 0.961, "cos_theta": 0.982, "omega": 0.916},
          "dkf": {"omega": 0.035}}
TARGETS = {"sin_theta": 0.98, "cos_theta": 0.98, "omega": 0.95, "valid_prediction_time": 0.5,
           "g_over_L_rel_error": 0.05, "damping_rel_error": 0.20}


#: the rules compared by evidence (--evidence): the true one, two wrong ones, and no rule
EVIDENCE_RULES = ("pendulum", "undamped", "small-angle", "generic")
#: the models of the default (non-evidence) run
DEFAULT_MODELS = ("pendulum", "undamped", "generic", "framewise", "dkf")


#: hypotheses about the input (--inputs): model and data overrides of the true (pendulum) rule
INPUT_HYPOTHESES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "recorded": ({}, {}),                     # the recorded torque drives the state
    "none": ({"driven": False}, {}),          # the input does not act
    "placebo": ({}, {"torque": "placebo"}),   # each sequence told another sequence's torque
    "generic": ({"transition": "generic", "readout": "circle"}, {}),  # recorded input, no rule
}
#: imposed torques of the interventions (--inputs): held at ≈ 31° (g/L · sin θ = 5), pumped at
#: about the natural frequency √(g/L)/2π ≈ 0.5 Hz, and no torque; training torques stay in ±2
INTERVENTIONS = (*STANDARD_INTERVENTIONS, "none")
#: the datasets of --inputs: the default pendulum, and the negative control whose recorded torque
#: was never applied to the pendulum (the simulator's torque_applied switch)
INPUT_DATASETS: dict[str, dict[str, Any]] = {
    "applied": {},
    "control": {"pendulum": {"torque_applied": False}},
}


#: pendulum settings of --grid (issue 12): each trains the true rule for the same budget
GRID: dict[str, dict[str, Any]] = {
    "default": {},
    "slow-lightly-damped": {"length": 2.5, "damping": 0.05},     # g/L 3.92
    "fast-heavily-damped": {"gravity": 20.0, "damping": 0.4},    # g/L 20
    "strong-torque": {"max_torque": 4.0},
    "weak-torque": {"max_torque": 0.5},
    "large-image": {"image_size": 48},
    "pixel-noise": {"pixel_noise": 0.05},
}
#: training and test sequences of the --grid probe
GRID_PROBE_SEQUENCES = 100
#: --grid targets on every setting
GRID_TARGETS = {"g_over_L": 0.05, "damping": 0.20, "input_gain": 0.10, "sin_theta": 0.98,
                "cos_theta": 0.98, "omega": 0.95, "valid_prediction_time": 0.5}


def train(args: argparse.Namespace, name: str, seed: int, minutes: float, init_from: Path | None = None,
          label: str | None = None, model: dict[str, Any] | None = None, epochs: int = 1000,
          init_transition: bool = False, data: dict[str, Any] | None = None) -> Path:
    """Train hypothesis `name` into --out/seedS/LABEL (reused when finished) with the run-wide
    --window and --init-constants."""
    run = args.out / f"seed{seed}" / (label or name)
    if (run / "model_best.safetensors").is_file() and (run / "done").is_file():
        print(f"[{run.name} seed {seed}] reusing {run}", flush=True)
        return run
    config = SequenceExperiment().with_overrides({
        "data": data or {},
        "model": {**HYPOTHESES[name], **(model or {})},
        "train": {"seed": seed, "time_budget_minutes": minutes, "epochs": epochs, "window": args.window,
                  "device": "cpu",
                  "init_constants": args.init_constants,
                  "init_from": None if init_from is None else str(init_from),
                  "init_transition": init_transition},
    })
    if run.exists():
        import shutil

        shutil.rmtree(run)
    fit_sequences(config, run, progress=False,
                  log=lambda line: print(f"[{run.name} seed {seed}] {line}", flush=True))
    (run / "done").write_text("")
    return run


def evaluate_seed(runs: dict[str, Path], k: int, eval_sequences: int, seed: int) -> dict[str, Any]:
    result: dict[str, Any] = {"models": {}}
    evidence = {}
    for name, run in runs.items():
        model, config, splits = load_sequence_run(run)
        train_set, test = splits["train"], splits["test"]
        entry: dict[str, Any] = {"epochs": len((run / "metrics.jsonl").read_text().splitlines()),
                                 "learned_constants": model.physical_constants()}
        started = time.perf_counter()
        evidence[name] = sequence_evidence(model, test, k, eval_sequences, seed=seed)
        if name != "framewise":
            fit = probe(model, train_set, test, mlp=(name == "pendulum"), seed=seed)
            entry["probe"] = fit.as_dict()
            entry["probe_constants"] = constants_from_probe(fit, test)
            scores = prediction_scores(model, test, mean_frame(train_set), context=10)
            entry["prediction"] = scores
            result.setdefault("baselines", {k_: scores[k_] for k_ in ("copy_last", "mean_frame")})
        if entry["learned_constants"] is not None:
            entry["oracles"] = prediction_oracles(model, test, config.data.pendulum, context=10)
        if name == "pendulum":
            result["truth_regression"] = constants_from_truth(test)
            torch.manual_seed(seed)  # the same model untrained: how much of the probe is structure
            untrained = build_sequence_model(config, train_set)
            entry["probe_at_init"] = probe(untrained, train_set, test, mlp=False).as_dict()
        entry["eval_seconds"] = time.perf_counter() - started
        result["models"][name] = entry
        print(f"[eval seed {seed}] {name} done ({entry['eval_seconds']:.0f} s)", flush=True)
    rows = evidence_table(evidence)
    constants = {r.name: result["models"][r.name]["learned_constants"] for r in rows}
    print(format_evidence_table(rows, k, constants), flush=True)
    result["evidence"] = {r.name: r.as_dict() for r in rows}
    result["evidence_vs_pendulum"] = gaps_to_true_rule(evidence)
    return result


def gaps_to_true_rule(evidence: dict[str, dict[str, torch.Tensor]],
                      reference: str = "pendulum") -> dict[str, dict[str, Any]]:
    """log p(x | reference) − log p(x | other) per frame, paired over test sequences, for each
    estimator (mean and standard error of the paired differences; > 0: the reference preferred)."""
    out: dict[str, dict[str, Any]] = {}
    for name, e in evidence.items():
        if name == reference:
            continue
        out[name] = {}
        for key in ("elbo", "iwae", "smc"):
            d = evidence[reference][key] / evidence[reference]["frames"] - e[key] / e["frames"]
            out[name][key] = {"mean": float(d.mean()), "stderr": float(d.std() / len(d) ** 0.5),
                              "sequences_preferring_true_rule": float((d > 0).double().mean())}
        out[name].update(out[name]["smc"])  # the headline: the tightest estimator
    return out


def evaluate_evidence(runs: dict[str, Path], k: int, eval_sequences: int, seed: int,
                      reference: str = "pendulum") -> dict[str, Any]:
    """Evidence only, with paired per-sequence differences to the `reference` model."""
    evidence, constants, noise = {}, {}, {}
    for name, run in runs.items():
        model, _, splits = load_sequence_run(run)
        started = time.perf_counter()
        evidence[name] = sequence_evidence(model, splits["test"], k, eval_sequences, seed=seed)
        constants[name] = model.physical_constants()
        if hasattr(model.dynamics, "noise"):
            noise[name] = [round(v, 5) for v in model.dynamics.noise.detach().tolist()]
        print(f"[eval seed {seed}] {name}: {time.perf_counter() - started:.0f} s", flush=True)
    rows = evidence_table(evidence)
    print(format_evidence_table(rows, k, constants), flush=True)
    return {"learned_constants": constants, "learned_noise": noise,
            "evidence": {r.name: r.as_dict() for r in rows},
            "evidence_vs_pendulum": gaps_to_true_rule(evidence, reference)}


def summarize_evidence(results: dict[int, dict[str, Any]], rules: list[str]) -> str:
    """Paired evidence gaps per seed, and their mean over seeds with its standard error."""
    seeds = sorted(results)
    lines = [f"evidence, one observation model and one noise ceiling for every rule, seeds {seeds}"]
    for name in [n for n in rules if n != "pendulum"]:
        for key in ("smc", "iwae", "elbo"):
            gaps = [results[s]["evidence_vs_pendulum"][name][key] for s in seeds]
            means = [g["mean"] for g in gaps]
            se = statistics.stdev(means) / len(means) ** 0.5 if len(means) > 1 else float("nan")
            per_seed = ", ".join(f"{g['mean']:+.3f} ± {g['stderr']:.3f} "
                                 f"[{g['sequences_preferring_true_rule']:.0%}]" for g in gaps)
            lines.append(f"pendulum − {name:<11} {key:>4}: {statistics.mean(means):+.3f} ± {se:.3f} "
                         f"nats/frame (mean over seeds ± s.e.; per seed, paired over sequences: {per_seed})")
        loose = [results[s]["before_tightening"]["evidence_vs_pendulum"][name]["smc"]["mean"] for s in seeds]
        lines.append(f"  before tightening (loose ceiling), smc: {statistics.mean(loose):+.3f} (per seed "
                     + ", ".join(f"{v:+.3f}" for v in loose) + ")")
    for name in rules:
        smc = [results[s]["evidence"][name]["smc_per_frame"]["mean"] for s in seeds]
        lines.append(f"test SMC_k nats/frame {name:<11}: {_mean_sd(smc)}; constants " + "; ".join(
            str(results[s]["learned_constants"][name]) for s in seeds))
    return "\n".join(lines)


def _mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def summarize(results: dict[int, dict[str, Any]], true: dict[str, float]) -> str:
    seeds = sorted(results)
    lines = [f"seeds {seeds}"]
    phys = [results[s]["models"]["pendulum"] for s in seeds]
    for target in ("sin_theta", "cos_theta", "omega"):
        values = [p["probe"]["linear_r2"][target] for p in phys]
        generic = [results[s]["models"]["generic"]["probe"]["linear_r2"][target] for s in seeds]
        dkf = [results[s]["models"]["dkf"]["probe"]["linear_r2"][target] for s in seeds]
        init = [p["probe_at_init"]["linear_r2"][target] for p in phys]
        mlp = [p["probe"]["mlp_r2"][target] for p in phys]
        lines.append(f"probe R² {target:<9}: pendulum {_mean_sd(values)} (per seed "
                     f"{', '.join(f'{v:.4f}' for v in values)}; MLP probe {_mean_sd(mlp)}; untrained "
                     f"{_mean_sd(init)}); generic {_mean_sd(generic)}; dkf {_mean_sd(dkf)}; "
                     f"DVBF {ANCHOR['dvbf'][target]}; target {TARGETS[target]}")
    for name in ("pendulum", "undamped", "generic", "dkf"):
        v = [results[s]["models"][name]["prediction"]["model"]["valid_prediction_time"] for s in seeds]
        per_seed = ", ".join(f"{x:.3f}" for x in v)
        lines.append(f"valid prediction time {name}: {_mean_sd(v)} (per seed {per_seed})")
    for name in ("copy_last", "mean_frame"):
        v = [results[s]["baselines"][name]["valid_prediction_time"] for s in seeds]
        lines.append(f"valid prediction time {name}: {_mean_sd(v)}")
    for oracle in ("emitter", "learned_transition", "true_physics"):
        v = [results[s]["models"]["pendulum"]["oracles"][oracle] for s in seeds]
        lines.append(f"valid prediction time, pendulum oracle {oracle}: {_mean_sd(v)} "
                     "(first 200 test sequences)")
    for source in ("learned_constants", "probe_constants"):
        g = [results[s]["models"]["pendulum"][source]["g_over_L"] for s in seeds]
        b = [results[s]["models"]["pendulum"][source]["damping"] for s in seeds]
        lines.append(f"{source}: g/L {_mean_sd(g)} (true {true['g_over_L']:.2f}, per seed "
                     f"{', '.join(f'{x:.3f}' for x in g)}); b {_mean_sd(b)} (true {true['damping']:.2f}, "
                     f"per seed {', '.join(f'{x:.3f}' for x in b)})")
    for name in ("undamped", "generic", "framewise", "dkf"):
        gaps = [results[s]["evidence_vs_pendulum"][name] for s in seeds]
        lines.append(f"evidence: pendulum − {name} = " + ", ".join(
            f"{g['mean']:+.3f} ± {g['stderr']:.3f}" for g in gaps) + " nats/frame (per seed, paired)")
    for name in DEFAULT_MODELS:
        elbo = [results[s]["evidence"][name]["elbo_per_frame"]["mean"] for s in seeds]
        iwae = [results[s]["evidence"][name]["iwae_per_frame"]["mean"] for s in seeds]
        lines.append(f"test nats/frame {name:<9}: −ELBO {_mean_sd([-x for x in elbo])}; "
                     f"−IWAE_k {_mean_sd([-x for x in iwae])}")
    return "\n".join(lines)


def run_evidence(args: argparse.Namespace, seeds: list[int], argv: list[str] | None, started: float) -> int:
    """The --evidence protocol (module docstring): base fit, adapt, tighten, evaluate; per seed."""
    rules = [n for n in args.rules.split(",") if n]
    if "pendulum" not in rules or not set(rules) | {args.base_rule} <= set(EVIDENCE_RULES):
        raise SystemExit("--rules must include pendulum; rules and --base-rule from "
                         f"{', '.join(EVIDENCE_RULES)}")
    guide = {"guide": args.evidence_guide}
    loose = {**guide, "noise_ceiling": list(args.adapt_noise_ceiling)}
    tight = {**guide, "noise_ceiling": list(args.noise_ceiling)}
    results: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        saved = args.out / f"seed{seed}" / "evidence_results.json"
        base = train(args, args.base_rule, seed, args.minutes,
                     label=f"base-{args.base_rule}", model=guide)
        runs, adapted_runs = {}, {}
        for name in rules:
            adapted_runs[name] = train(args, name, seed, 0.0, init_from=base,
                                       label=f"adapt-{name}", model=loose, epochs=args.adapt_epochs)
            runs[name] = train(args, name, seed, 0.0, init_from=adapted_runs[name],
                               label=f"tight-{name}", model=tight, epochs=args.tight_epochs,
                               init_transition=True)
        if saved.is_file() and json.loads(saved.read_text()).get("rules") == rules:
            results[seed] = json.loads(saved.read_text())
            print(f"[seed {seed}] reusing {saved}")
            continue
        before = evaluate_evidence(adapted_runs, args.k, args.eval_sequences, seed)
        results[seed] = {"rules": rules, **evaluate_evidence(runs, args.k, args.eval_sequences, seed),
                         "before_tightening": before}
        saved.write_text(json.dumps(results[seed], indent=2) + "\n")
    text = summarize_evidence(results, rules)
    print(text)
    record = {"command": " ".join(["python", "bench/pendulum.py", *(argv or sys.argv[1:])]),
              "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                         f"{args.threads} thread(s)",
              "base_rule": args.base_rule, "minutes_base": args.minutes, "adapt_epochs": args.adapt_epochs,
              "tight_epochs": args.tight_epochs, "noise_ceiling": args.noise_ceiling,
              "adapt_noise_ceiling": args.adapt_noise_ceiling,
              "guide": args.evidence_guide, "k": args.k, "eval_sequences": args.eval_sequences,
              "seeds": seeds,
              "wall_seconds": time.perf_counter() - started, "results": results, "summary": text}
    (args.out / "evidence_summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'evidence_summary.json'}")
    return 0


def run_inputs(args: argparse.Namespace, seeds: list[int], argv: list[str] | None, started: float) -> int:
    """The --inputs protocol: does the recorded torque cause the motion? Per dataset and seed, the
    observation model of a fit of the WRONG hypothesis (no input) is shared by every input
    hypothesis, each adapting a fresh transition of the true rule for the same epochs under the
    same noise ceilings as --evidence; then paired SMC evidence against `recorded`."""
    chosen = {"applied": [n for n in args.inputs_hypotheses.split(",") if n],
              "control": [n for n in args.control_hypotheses.split(",") if n]}
    for names in chosen.values():
        if "recorded" not in names or not set(names) <= set(INPUT_HYPOTHESES):
            raise SystemExit(f"input hypotheses must include recorded; from {', '.join(INPUT_HYPOTHESES)}")
    datasets = [n for n in args.inputs_datasets.split(",") if n]
    guide = {"guide": args.evidence_guide}
    loose = {**guide, "noise_ceiling": list(args.adapt_noise_ceiling)}
    tight = {**guide, "noise_ceiling": list(args.noise_ceiling)}
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for dataset in datasets:
        results[dataset] = {}
        hypotheses = chosen[dataset]
        for seed in seeds:
            saved = args.out / f"seed{seed}" / f"inputs-{dataset}.json"
            data = INPUT_DATASETS[dataset]
            base = train(args, "pendulum", seed, args.minutes, data=data,
                         label=f"{dataset}-base-none", model={**guide, "driven": False})
            runs = {}
            for name in hypotheses:
                model, extra = INPUT_HYPOTHESES[name]
                both = {**data, **extra}
                adapted = train(args, "pendulum", seed, 0.0, init_from=base, data=both,
                                label=f"{dataset}-adapt-{name}", model={**loose, **model},
                                epochs=args.adapt_epochs)
                runs[name] = train(args, "pendulum", seed, 0.0, init_from=adapted,
                                   data=both, label=f"{dataset}-tight-{name}", model={**tight, **model},
                                   epochs=args.tight_epochs, init_transition=True)
            if saved.is_file() and json.loads(saved.read_text()).get("hypotheses") == hypotheses:
                results[dataset][seed] = json.loads(saved.read_text())
                print(f"[{dataset} seed {seed}] reusing {saved}")
                continue
            results[dataset][seed] = {"hypotheses": hypotheses, **evaluate_evidence(
                runs, args.k, args.eval_sequences, seed, reference="recorded")}
            if dataset == "applied":
                results[dataset][seed]["interventions"] = evaluate_interventions(
                    runs, args.intervention_sequences, seed)
            saved.write_text(json.dumps(results[dataset][seed], indent=2) + "\n")
    text = summarize_inputs(results, chosen)
    print(text)
    record = {"command": " ".join(["python", "bench/pendulum.py", *(argv or sys.argv[1:])]),
              "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                         f"{args.threads} thread(s)",
              "minutes_base": args.minutes, "adapt_epochs": args.adapt_epochs,
              "tight_epochs": args.tight_epochs, "noise_ceiling": args.noise_ceiling,
              "adapt_noise_ceiling": args.adapt_noise_ceiling, "guide": args.evidence_guide,
              "k": args.k, "eval_sequences": args.eval_sequences, "seeds": seeds,
              "wall_seconds": time.perf_counter() - started, "results": results, "summary": text}
    (args.out / "inputs_summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'inputs_summary.json'}")
    return 0


def evaluate_interventions(runs: dict[str, Path], sequences: int, seed: int) -> dict[str, Any]:
    """do(u) for each model: filter 10 frames of the first `sequences` test sequences, roll the
    model under each imposed torque of INTERVENTIONS for 90 steps, and score it against the
    simulator run from the true state under the same torque."""
    from vaelab.evaluation.interventions import intervene, load_torque

    out: dict[str, Any] = {}
    for name, run in runs.items():
        model, config, splits = load_sequence_run(run)
        pendulum = config.data.pendulum
        out[name] = {}
        for spec in INTERVENTIONS:
            torque = load_torque(spec, 90, pendulum.dt)
            result = intervene(model, splits["test"], pendulum, torque, context=10,
                               sequences=slice(0, sequences))
            out[name][spec] = result.summary()
        print(f"[interventions seed {seed}] {name}: " + ", ".join(
            f"{spec} {out[name][spec]['valid_prediction_time']:.3f}" for spec in INTERVENTIONS), flush=True)
    return out


def true_constants(pendulum: Any) -> dict[str, float]:
    """The simulator's g/L, b and input gain (1 when the torque is applied, else 0)."""
    return {"g_over_L": pendulum.gravity / pendulum.length, "damping": pendulum.damping,
            "input_gain": 1.0 if pendulum.torque_applied else 0.0}


def evaluate_grid_run(run: Path, seed: int) -> dict[str, Any]:
    """Constants (learned, regressed from the probed states, true), probe R² and valid prediction
    time of one --grid run, with each target's verdict."""
    model, config, splits = load_sequence_run(run)
    train_set, test = splits["train"], splits["test"]
    truth = true_constants(config.data.pendulum)
    learned = model.physical_constants() or {}
    # 100 + 100 probe sequences, a smoothing guide filtering exactly (every prefix, O(T²)), as recorded
    fit = probe(model, train_set, test, mlp=False, seed=seed, train_sequences=GRID_PROBE_SEQUENCES,
                test_sequences=GRID_PROBE_SEQUENCES, lag=None)
    vpt = prediction_scores(model, test, mean_frame(train_set), context=10)["model"]["valid_prediction_time"]
    errors = {name: (learned[name] - truth[name]) / truth[name] for name in truth if truth[name] > 0}
    met = {name: abs(errors[name]) <= GRID_TARGETS[name] for name in errors}
    met.update({name: fit.linear[name] >= GRID_TARGETS[name] for name in ("sin_theta", "cos_theta", "omega")})
    met["valid_prediction_time"] = vpt >= GRID_TARGETS["valid_prediction_time"]
    return {"true": truth, "learned": learned, "relative_error": errors,
            "probe_constants": constants_from_probe(fit, test), "probe_r2": fit.linear,
            "valid_prediction_time": vpt, "met": met,
            "epochs": len((run / "metrics.jsonl").read_text().splitlines())}


def run_grid(args: argparse.Namespace, seeds: list[int], argv: list[str] | None, started: float) -> int:
    """--grid: the true rule trained for `--minutes` on each pendulum setting of GRID, per seed."""
    settings = [n for n in args.grid_settings.split(",") if n]
    unknown = set(settings) - set(GRID)
    if unknown:
        raise SystemExit(f"unknown --grid-settings {sorted(unknown)}; choose from {', '.join(GRID)}")
    model = {"guide": args.grid_guide}
    results: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in settings}
    for seed in seeds:
        for name in settings:
            saved = args.out / f"seed{seed}" / f"grid-{name}.json"
            if saved.is_file():
                results[name][seed] = json.loads(saved.read_text())
                continue
            run = train(args, "pendulum", seed, 0.0 if args.grid_epochs else args.minutes,
                        label=f"grid-{name}", model=model, data={"pendulum": GRID[name]},
                        epochs=args.grid_epochs or 1000)
            results[name][seed] = evaluate_grid_run(run, seed)
            saved.write_text(json.dumps(results[name][seed], indent=2) + "\n")
            print(f"[grid {name} seed {seed}] " + format_grid_row(results[name][seed]), flush=True)
    text = summarize_grid(results)
    print(text)
    record = {"command": " ".join(["python", "bench/pendulum.py", *(argv or sys.argv[1:])]),
              "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                         f"{args.threads} thread(s)",
              "minutes_per_setting": 0 if args.grid_epochs else args.minutes,
              "epochs_per_setting": args.grid_epochs,
              "guide": SSMConfig(guide=args.grid_guide).resolved_guide(), "settings": GRID,
              "targets": GRID_TARGETS, "seeds": seeds, "wall_seconds": time.perf_counter() - started,
              "results": results, "summary": text}
    (args.out / "grid_summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'grid_summary.json'}")
    return 0


def format_grid_row(r: dict[str, Any]) -> str:
    learned, truth = r["learned"], r["true"]
    cells = [f"{name} {learned[name]:.3f} (true {truth[name]:.3f}, {100 * r['relative_error'][name]:+.0f}%)"
             if name in r["relative_error"] else f"{name} {learned.get(name, float('nan')):.3f}"
             for name in ("g_over_L", "damping", "input_gain")]
    r2 = r["probe_r2"]
    cells.append(f"R² {r2['sin_theta']:.3f}/{r2['cos_theta']:.3f}/{r2['omega']:.3f}")
    cells.append(f"VPT {r['valid_prediction_time']:.3f}")
    missed = [name for name, ok in r["met"].items() if not ok]
    return "; ".join(cells) + f"; {r['epochs']} epochs; " + ("all targets met" if not missed
                                                             else "missed: " + ", ".join(missed))


def summarize_grid(results: dict[str, dict[int, dict[str, Any]]]) -> str:
    lines = ["constants on any pendulum: per setting and seed (targets g/L ±5 %, b ±20 %, gain ±10 %, "
             "probe R² ≥ 0.98/0.98/0.95, valid prediction time ≥ 0.5)"]
    for name, by_seed in results.items():
        for seed in sorted(by_seed):
            lines.append(f"{name:<20} seed {seed}: {format_grid_row(by_seed[seed])}")
    return "\n".join(lines)


def summarize_inputs(results: dict[str, dict[int, dict[str, Any]]], chosen: dict[str, list[str]]) -> str:
    """Per dataset, the paired SMC gap recorded − other per seed, in standard errors; and the
    valid prediction time under each intervention."""
    lines = ["does the recorded torque cause the motion? SMC_k evidence per frame, recorded − other, "
             "paired over test sequences (> 0: the input hypothesis preferred)"]
    for dataset, by_seed in results.items():
        seeds = sorted(by_seed)
        for name in [n for n in chosen[dataset] if n != "recorded"]:
            gaps = [by_seed[s]["evidence_vs_pendulum"][name]["smc"] for s in seeds]
            means = [g["mean"] for g in gaps]
            per_seed = ", ".join(f"{g['mean']:+.4f} ± {g['stderr']:.4f} "
                                 f"({g['mean'] / g['stderr']:+.1f} s.e.; "
                                 f"{g['sequences_preferring_true_rule']:.0%})" for g in gaps)
            lines.append(f"{dataset:<8} recorded − {name:<8}: mean {statistics.mean(means):+.4f}; "
                         f"per seed {per_seed}")
        gains = [by_seed[s]["learned_constants"]["recorded"] for s in seeds]
        lines.append(f"{dataset:<8} learned constants of `recorded`: " + "; ".join(map(str, gains)))
        if any("interventions" in by_seed[s] for s in seeds):
            lines.append("valid prediction time under do(u), 10 context frames, 90 steps "
                         "(mean over seeds; per seed)")
            for name in chosen[dataset]:
                for spec in INTERVENTIONS:
                    v = [by_seed[s]["interventions"][name][spec]["valid_prediction_time"] for s in seeds
                         if "interventions" in by_seed[s]]
                    lines.append(f"  {name:<9} {spec:<11}: {statistics.mean(v):.3f} ("
                                 + ", ".join(f"{x:.3f}" for x in v) + ")")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=6.0, help="training budget per model and seed")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models", default=None, help=f"default {','.join(DEFAULT_MODELS)}")
    parser.add_argument("--k", type=int, default=100, help="importance samples per test sequence")
    parser.add_argument("--eval-sequences", type=int, default=100, help="test sequences for the evidence")
    parser.add_argument("--window", type=int, default=25, help="training window in frames (0 = whole)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("bench/results/pendulum"))
    parser.add_argument("--evidence", action="store_true",
                        help="compare the rules by evidence with one observation model and noise ceiling")
    parser.add_argument("--rules", default=",".join(EVIDENCE_RULES), help="rules compared by --evidence")
    parser.add_argument("--base-rule", default="undamped",
                        help="the rule whose fit gives the shared observation model (--evidence)")
    parser.add_argument("--adapt-epochs", type=int, default=4,
                        help="epochs each rule's fresh transition trains on the shared model (--evidence)")
    parser.add_argument("--tight-epochs", type=int, default=6,
                        help="epochs each rule then trains under --noise-ceiling (--evidence)")
    parser.add_argument("--noise-ceiling", type=float, nargs=3, default=[0.004, 0.004, 0.01],
                        metavar=("COS", "SIN", "OMEGA"),
                        help="process-noise ceiling for every rule (--evidence)")
    parser.add_argument("--adapt-noise-ceiling", type=float, nargs=3, default=[0.01, 0.01, 0.1],
                        metavar=("COS", "SIN", "OMEGA"),
                        help="process-noise ceiling for every rule while adapting (--evidence; the default "
                             "is the physics rules' own)")
    parser.add_argument("--evidence-guide", default="smooth", choices=("smooth", "filter"))
    parser.add_argument("--init-constants", default="least-squares", choices=("least-squares", "fixed"),
                        help="where fresh physics rules' constants start (train.init_constants)")
    parser.add_argument("--grid", action="store_true",
                        help="train the true rule on each pendulum setting of GRID for --minutes and check "
                             "the recovered constants, probe and prediction")
    parser.add_argument("--grid-settings", default=",".join(GRID), help="settings of --grid")
    parser.add_argument("--grid-epochs", type=int, default=0,
                        help="train each --grid setting this many epochs instead of --minutes (a budget that "
                             "does not depend on how busy the machine is)")
    parser.add_argument("--grid-guide", default="auto", choices=("auto", "filter", "smooth"),
                        help="the guide of --grid runs (default: the CLI's; auto = smooth for physics)")
    parser.add_argument("--inputs", action="store_true",
                        help="compare hypotheses about the input by evidence: recorded / none / placebo, "
                             "on the default data and on the negative control (torque never applied)")
    parser.add_argument("--inputs-hypotheses", default=",".join(INPUT_HYPOTHESES),
                        help="hypotheses compared by --inputs on the default data (generic: the "
                             "recorded input into a network transition)")
    parser.add_argument("--control-hypotheses", default="recorded,none",
                        help="hypotheses compared by --inputs on the negative control")
    parser.add_argument("--intervention-sequences", type=int, default=100,
                        help="test sequences scored under each imposed torque (--inputs)")
    parser.add_argument("--inputs-datasets", default=",".join(INPUT_DATASETS),
                        help="datasets of --inputs: applied (default pendulum), control (torque recorded, "
                             "never applied)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [n for n in (args.models or ",".join(DEFAULT_MODELS)).split(",") if n]
    unknown = set(names) - set(HYPOTHESES)
    if unknown or "pendulum" not in names:
        parser.error(f"--models must include pendulum and come from {', '.join(HYPOTHESES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    if args.evidence:
        return run_evidence(args, seeds, argv, started)
    if args.inputs:
        return run_inputs(args, seeds, argv, started)
    if args.grid:
        return run_grid(args, seeds, argv, started)
    for seed in seeds:
        runs = {name: train(args, name, seed, args.minutes * BUDGET_SHARE[name])
                for name in names}
        results[seed] = evaluate_seed(runs, args.k, args.eval_sequences, seed)
        (args.out / f"seed{seed}" / "results.json").write_text(json.dumps(results[seed], indent=2) + "\n")
    true = {"g_over_L": 9.81, "damping": 0.1}
    text = summarize(results, true) if set(names) == set(DEFAULT_MODELS) else json.dumps(results, indent=2)
    print(text)
    record = {"command": " ".join(["python", "bench/pendulum.py", *(argv or sys.argv[1:])]),
              "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                         f"{args.threads} thread(s)",
              "minutes_per_model": args.minutes, "seeds": seeds, "anchor": ANCHOR, "targets": TARGETS,
              "wall_seconds": time.perf_counter() - started, "results": results, "summary": text}
    (args.out / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
