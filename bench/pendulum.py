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
- evidence: ELBO and IWAE_k (k = 100 over whole sequences) in nats per frame on the first
  `--eval-sequences` test sequences, with paired differences to the true-rule model.

    python bench/pendulum.py --minutes 6 --seeds 0,1,2 --out bench/results/pendulum

With `--shared-emitter MINUTES` the evidence compares the rules with one observation model: after
the true-rule run (trained or reused as above), `pendulum`, `undamped` and `generic` are each
warm-started from its weights — emitter, frame encoder and guide copied, every transition (the
true rule's included) freshly initialised — and trained MINUTES more; only their evidence is
reported. Warm start rather than a frozen emitter: each hypothesis may still adapt the shared
decoder to its own latent trajectories, and all start from, and spend, the same.

    python bench/pendulum.py --minutes 5 --shared-emitter 2 --seeds 0,1,2 --out bench/results/pendulum
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
from vaelab.training.sequence_loop import (
    SequenceExperiment,
    build_sequence_model,
    fit_sequences,
    load_sequence_run,
)

HYPOTHESES: dict[str, dict[str, Any]] = {
    "pendulum": {"transition": "pendulum"},
    "undamped": {"transition": "undamped"},
    "generic": {"transition": "generic", "readout": "circle"},
    "framewise": {"transition": "none", "guide": "frame", "combiner": "frame"},
    "dkf": {"transition": "generic", "architecture": "mlp", "readout": "full"},
}
#: training budget of each model as a share of --minutes (the baselines get half)
BUDGET_SHARE = {"pendulum": 1.0, "undamped": 1.0, "generic": 1.0, "framewise": 0.5, "dkf": 0.5}
ANCHOR = {"source": "Karl et al. 2017 (DVBF), Table 1, pendulum, linear probe R²",
          "dvbf": {"sin_theta": 0.961, "cos_theta": 0.982, "omega": 0.916},
          "dkf": {"omega": 0.035}}
TARGETS = {"sin_theta": 0.98, "cos_theta": 0.98, "omega": 0.95, "valid_prediction_time": 0.5,
           "g_over_L_rel_error": 0.05, "damping_rel_error": 0.20}


#: the hypotheses compared with a shared observation model (--shared-emitter)
SHARED = ("pendulum", "undamped", "generic")


def train(name: str, seed: int, minutes: float, out: Path, window: int,
          init_from: Path | None = None) -> Path:
    run = out / f"seed{seed}" / (name if init_from is None else f"shared-{name}")
    if (run / "model_best.safetensors").is_file() and (run / "done").is_file():
        print(f"[{run.name} seed {seed}] reusing {run}", flush=True)
        return run
    config = SequenceExperiment().with_overrides({
        "model": HYPOTHESES[name],
        "train": {"seed": seed, "minutes": minutes, "epochs": 1000, "window": window, "device": "cpu",
                  "init_from": None if init_from is None else str(init_from)},
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
    per_frame = {name: e["iwae"] / e["frames"] for name, e in evidence.items()}
    result["evidence"] = {r.name: r.as_dict() for r in rows}
    result["evidence_vs_pendulum"] = {
        name: {"mean": float((per_frame["pendulum"] - v).mean()),
               "stderr": float((per_frame["pendulum"] - v).std() / len(v) ** 0.5)}
        for name, v in per_frame.items() if name != "pendulum"}
    return result


def evaluate_evidence(runs: dict[str, Path], k: int, eval_sequences: int, seed: int) -> dict[str, Any]:
    """Evidence only, with paired per-sequence differences to the true-rule model."""
    evidence, constants, epochs = {}, {}, {}
    for name, run in runs.items():
        model, _, splits = load_sequence_run(run)
        evidence[name] = sequence_evidence(model, splits["test"], k, eval_sequences, seed=seed)
        constants[name] = model.physical_constants()
        epochs[name] = len((run / "metrics.jsonl").read_text().splitlines())
    rows = evidence_table(evidence)
    print(format_evidence_table(rows, k, constants), flush=True)
    per_frame = {name: e["iwae"] / e["frames"] for name, e in evidence.items()}
    return {"epochs": epochs, "learned_constants": constants,
            "evidence": {r.name: r.as_dict() for r in rows},
            "evidence_vs_pendulum": {
                name: {"mean": float((per_frame["pendulum"] - v).mean()),
                       "stderr": float((per_frame["pendulum"] - v).std() / len(v) ** 0.5)}
                for name, v in per_frame.items() if name != "pendulum"}}


def summarize_shared(results: dict[int, dict[str, Any]]) -> str:
    """Paired evidence gaps per seed, and their mean over seeds with its standard error."""
    seeds = sorted(results)
    lines = [f"shared observation model, seeds {seeds}"]
    for name in [n for n in SHARED if n != "pendulum"]:
        gaps = [results[s]["evidence_vs_pendulum"][name] for s in seeds]
        means = [g["mean"] for g in gaps]
        se = statistics.stdev(means) / len(means) ** 0.5 if len(means) > 1 else float("nan")
        lines.append(f"evidence: pendulum − {name} = {statistics.mean(means):+.3f} ± {se:.3f} nats/frame "
                     "(mean over seeds ± s.e.; per seed, paired: " + ", ".join(
                         f"{g['mean']:+.3f} ± {g['stderr']:.3f}" for g in gaps) + ")")
    for name in SHARED:
        iwae = [results[s]["evidence"][name]["iwae_per_frame"]["mean"] for s in seeds]
        lines.append(f"test IWAE_k nats/frame {name:<9}: {_mean_sd(iwae)}; epochs "
                     f"{', '.join(str(results[s]['epochs'][name]) for s in seeds)}")
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
    for name in HYPOTHESES:
        elbo = [results[s]["evidence"][name]["elbo_per_frame"]["mean"] for s in seeds]
        iwae = [results[s]["evidence"][name]["iwae_per_frame"]["mean"] for s in seeds]
        lines.append(f"test nats/frame {name:<9}: −ELBO {_mean_sd([-x for x in elbo])}; "
                     f"−IWAE_k {_mean_sd([-x for x in iwae])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=6.0, help="training budget per model and seed")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models", default=",".join(HYPOTHESES))
    parser.add_argument("--k", type=int, default=100, help="importance samples per test sequence")
    parser.add_argument("--eval-sequences", type=int, default=100, help="test sequences for the evidence")
    parser.add_argument("--window", type=int, default=25, help="training window in frames (0 = whole)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("bench/results/pendulum"))
    parser.add_argument("--shared-emitter", type=float, default=0.0, metavar="MINUTES",
                        help="compare pendulum, undamped and generic warm-started from the true-rule run, "
                             "each trained MINUTES more (evidence only)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [n for n in args.models.split(",") if n]
    unknown = set(names) - set(HYPOTHESES)
    if unknown or "pendulum" not in names:
        parser.error(f"--models must include pendulum and come from {', '.join(HYPOTHESES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    if args.shared_emitter > 0:
        for seed in seeds:
            base = train("pendulum", seed, args.minutes, args.out, args.window)
            runs = {name: train(name, seed, args.shared_emitter, args.out, args.window, init_from=base)
                    for name in SHARED}
            results[seed] = evaluate_evidence(runs, args.k, args.eval_sequences, seed)
            (args.out / f"seed{seed}" / "shared_results.json").write_text(
                json.dumps(results[seed], indent=2) + "\n")
        text = summarize_shared(results)
        print(text)
        record = {"command": " ".join(["python", "bench/pendulum.py", *(argv or sys.argv[1:])]),
                  "minutes_true_rule": args.minutes, "minutes_extra_per_hypothesis": args.shared_emitter,
                  "seeds": seeds, "wall_seconds": time.perf_counter() - started, "results": results,
                  "summary": text}
        (args.out / "shared_summary.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out / 'shared_summary.json'}")
        return 0
    for seed in seeds:
        runs = {name: train(name, seed, args.minutes * BUDGET_SHARE[name], args.out, args.window)
                for name in names}
        results[seed] = evaluate_seed(runs, args.k, args.eval_sequences, seed)
        (args.out / f"seed{seed}" / "results.json").write_text(json.dumps(results[seed], indent=2) + "\n")
    true = {"g_over_L": 9.81, "damping": 0.1}
    text = summarize(results, true) if set(names) == set(HYPOTHESES) else json.dumps(results, indent=2)
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
