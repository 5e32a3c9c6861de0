"""Semi-supervised MNIST with 100 labels: M2, M1+M2, ADGM and SDGM test error (and ECE) beside
Kingma et al. (2014) and Maaløe et al. (2016).

Each (model, seed) trains with vaelab's own loop for a wall-clock budget (`--minutes`; for M1+M2
the budget is split between M1 and M2 by `--m1-fraction`), then classifies the whole MNIST test
set. Prints mean ± std over seeds beside the published figures (Table 1, 100 labels):
M2 11.97%, M1+M2 3.33% ± 0.14 (Kingma et al., Table 1), ADGM 0.96% ± 0.02, SDGM 1.32% ± 0.07
(Maaløe et al., Table 2). The papers train for hours on a GPU; a CPU budget shows
how far the same model gets in the stated time.

    python bench/semisupervised.py --data-dir ../shared/data --minutes 8 --seeds 0 1 2
    python bench/semisupervised.py --models m1m2 --minutes 30 --seeds 0 1 2 --device cuda
    python bench/semisupervised.py --models adgm --minutes 20 --seeds 0
    python bench/semisupervised.py --models m2 adgm sdgm --minutes 40 --seeds 0 1 2 --calibrate \
        --select-by error --bf16 --ema 0.999 --grad-skip inf    # issue 27's three-seed rows
    python bench/semisupervised.py --models sdgm --minutes 120 --seeds 0 --bf16 --latent-dim 100 \
        --auxiliary-dim 100 --hidden 500,500 --classifier-hidden 500,500 --lr 3e-4  # paper sizes
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vaelab.evaluation.classification import evaluate_semisupervised_run
from vaelab.kinds.flags import checked
from vaelab.kinds.semisupervised_experiment import SemiSupervisedExperiment, default_experiment
from vaelab.kinds.semisupervised_training import (
    collapsed_classes,
    fit_semisupervised,
    load_semisupervised_run,
)
from vaelab.runs.metrics_log import read_metrics
from vaelab.settings import int_list

PAPER = {"m2": ("11.97%", "Kingma et al. 2014, Table 1 (M2, 100 labels)"),
         "m1m2": ("3.33% ± 0.14", "Kingma et al. 2014, Table 1 (M1+M2, 100 labels)"),
         "adgm": ("0.96% ± 0.02", "Maaløe et al. 2016, Table 2 (ADGM, 100 labels)"),
         "sdgm": ("1.32% ± 0.07", "Maaløe et al. 2016, Table 2 (SDGM, 100 labels)")}
#: settings beyond `default_experiment` (documented in bench/README.md; ADGM's and SDGM's defaults
#: are already the CPU sizes and warm-up the rows were measured with)
SETTINGS = {
    "m2": {"train": {"kl_warmup_steps": 2000}},
    "m1m2": {"train": {"kl_warmup_steps": 2000}},
    "adgm": {"train": {}},
    "sdgm": {"train": {}},
}


#: what the results JSON keeps of each M2 epoch (bench/plot_curve.py draws it)
CURVE_KEYS = ("epoch", "seconds", "train_bound", "valid_bound", "valid_error",
              "train_labelled_error", "learning_rate", "collapsed_classes")


def given(settings: dict) -> dict:
    """The settings whose flag was given; the others keep the kind's default."""
    return {key: value for key, value in settings.items() if value is not None}


def row_config(kind: str, seed: int, args: argparse.Namespace) -> SemiSupervisedExperiment:
    """What one (model, seed) of the table trains with (configs/{adgm,sdgm}-mnist-100.toml
    spell out the rows of issue 27)."""
    minutes = args.minutes
    m2_minutes = minutes * (1 - args.m1_fraction) if kind == "m1m2" else minutes
    overrides = {
        "model": {**SETTINGS[kind].get("model", {}),
                  **given({"latent_dim": args.latent_dim,
                           "hidden": args.hidden})},
        "data": {"dataset": args.dataset, "data_dir": args.data_dir},
        "train": {**SETTINGS[kind]["train"], "learning_rate": args.lr, "lr_schedule": args.schedule,
                  "seed": seed, "epochs": 10_000,
                  "time_budget_minutes": m2_minutes, "device": args.device,
                  "precision": "bf16" if args.bf16 else "fp32",
                  **given({"ema_decay": args.ema, "grad_skip": args.grad_skip,
                           "final_lr_fraction": args.final_lr_fraction, "grad_clip": args.grad_clip})},
        "semisupervised": {**SETTINGS[kind].get("semisupervised", {}),
                           "labels": args.labels, "alpha": args.alpha,
                           **given({"select_by": args.select_by, "calibrate": args.calibrate,
                                    "auxiliary_dim": args.auxiliary_dim,
                                    "classifier_hidden": args.classifier_hidden,
                                    "class_balance": args.class_balance}),
                           "m1_epochs": 10_000,
                           "m1_time_budget_minutes": minutes * args.m1_fraction},
    }
    return default_experiment(kind).with_overrides(overrides)


def run_one(kind: str, seed: int, args: argparse.Namespace, folder: Path) -> dict:
    """Train one model with one seed within the budget; its test metrics and timings."""
    config = row_config(kind, seed, args)
    run_dir = folder / f"{kind}-seed{seed}"
    started = time.perf_counter()
    torch.manual_seed(seed)
    fit_semisupervised(config, run_dir, progress=False, log=lambda message: None)
    trained = time.perf_counter() - started
    metrics = evaluate_semisupervised_run(run_dir, load_semisupervised_run, k=0, examples=1000,
                                          device=args.device, seed=seed, log=lambda message: None)
    records = read_metrics(run_dir)
    scaled = metrics["classification"].get("temperature_scaling")
    result = {"model": kind, "seed": seed, "error": metrics["classification"]["error"]["mean"],
              "ece": metrics["classification"]["calibration"]["ece"],
              "ece_after_temperature": None if scaled is None else scaled["test_ece_after"],
              "temperature": None if scaled is None else scaled["temperature"],
              "latent_dim": config.model.latent_dim, "hidden": list(config.model.hidden),
              "auxiliary_dim": config.semisupervised.auxiliary_dim,
              "classifier_hidden": list(config.semisupervised.classifier_hidden),
              "class_balance": config.semisupervised.class_balance,
              "precision": config.train.precision, "ema_decay": config.train.ema_decay,
              "grad_skip": config.train.grad_skip, "grad_clip": config.train.grad_clip,
              "lr_schedule": config.train.lr_schedule,
              "final_lr_fraction": config.train.final_lr_fraction,
              "dataset": args.dataset,
              "label_budget": metrics["label_budget"],
              "per_class_error": metrics["classification"]["per_class_error"],
              # the collapse line (predicted share < half the labelled share, balanced
              # labels: 1 / 2C) on the test set, and the epochs whose validation record flagged one
              "test_collapsed_classes": collapsed_classes(
                  torch.tensor(metrics["classification"]["confusion_matrix"], dtype=torch.float64),
                  torch.full((len(metrics["classification"]["per_class_error"]),),
                             1 / len(metrics["classification"]["per_class_error"]), dtype=torch.float64)),
              "epochs_with_a_collapsed_class": [r["epoch"] for r in records if r.get("collapsed_classes")],
              "auxiliary_use": metrics["classification"].get("auxiliary_use"),
              "unlabelled_bound": metrics["test"]["elbo"]["mean"],
              "epochs": records[-1]["epoch"], "steps": records[-1]["step"],
              "train_seconds": trained, "run_dir": str(run_dir),
              "curve": [{key: r.get(key) for key in CURVE_KEYS} for r in records]}
    if (run_dir / "m1").is_dir():
        keys = ("epoch", "seconds", "train_bound", "learning_rate")
        result["m1_curve"] = [{key: r.get(key) for key in keys} for r in read_metrics(run_dir / "m1")]
    print(f"  {kind:5s} seed {seed}: test error {100 * result['error']:.2f}% (ECE "
          f"{result['ece']:.3f}; {result['label_budget']} labels with the validation ones) after "
          f"{result['epochs']} {'M2 ' if kind == 'm1m2' else ''}epochs ({result['steps']} steps), "
          f"{trained / 60:.1f} min",
          flush=True)
    return result


def table(results: list[dict]) -> str:
    lines = [f"{'model':7s} {'seeds':>5s} {'test error (mean ± s.e.)':>26s} {'std':>6s} {'ECE*':>6s}"
             f"   {'paper':>14s}", "-" * 74]
    for kind in PAPER:
        rows = [r for r in results if r["model"] == kind]
        if not rows:
            continue
        errors = [100 * r["error"] for r in rows]
        sd = statistics.stdev(errors) if len(errors) > 1 else None
        std = f"{'—':>6s}" if sd is None else f"{sd:6.2f}"
        spread = "(1 seed)" if sd is None else f"± {sd / len(errors) ** 0.5:4.2f}"
        ece = statistics.mean(r["ece"] for r in rows)
        lines.append(f"{kind:7s} {len(errors):5d} {statistics.mean(errors):17.2f}% {spread:>8s} "
                     f"{std} {ece:6.3f}   {PAPER[kind][0]:>14s}")
    lines.append("* mean ECE before any temperature scaling (ece_after_temperature in --json)")
    return "\n".join(lines)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.1, help="α = ALPHA · N (paper: 0.1)")
    parser.add_argument("--models", nargs="+", choices=tuple(PAPER), default=["m2", "m1m2"])
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per model and seed")
    parser.add_argument("--m1-fraction", type=float, default=0.4,
                        help="share of an M1+M2 budget spent on M1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate (paper: 3e-4)")
    parser.add_argument("--schedule", default="constant", choices=("constant", "cosine", "step"),
                        help="learning-rate schedule (M1's too); cosine decays to "
                             "--final-lr-fraction of --lr over each one's time budget, step cuts "
                             "to it once, halfway through")
    parser.add_argument("--final-lr-fraction", type=float,
                        help="the last rate of --schedule cosine or step, as a fraction of --lr "
                             "(default: vaelab train's, 0.01)")
    parser.add_argument("--grad-clip", type=float,
                        help="clip the gradients to this total norm (default: vaelab train's, 0 = "
                             "off; Maaløe et al.'s code: 5)")
    parser.add_argument("--select-by", choices=("bound", "error"),
                        help="what picks the weights that classify the test set: the best "
                             "validation bound or the lowest validation error (default: the "
                             "kind's: bound for m2 and m1m2, error for adgm and sdgm)")
    parser.add_argument("--bf16", action="store_true",
                        help="train under bfloat16 autocast (pays on CPUs with AVX512-BF16 or AMX)")
    parser.add_argument("--ema", type=float,
                        help="keep an exponential moving average of the weights at this decay "
                             "(0 = off); validation, selection and the test use the average "
                             "(default: the kind's: off for m2 and m1m2, 0.999 for adgm and sdgm)")
    parser.add_argument("--grad-skip", type=float,
                        help="skip steps whose gradient norm exceeds this; inf: only non-finite "
                             "ones, the NaN guard of a long --bf16 run (vaelab train --grad-skip; "
                             "default: the kind's: off for m2 and m1m2, inf for adgm and sdgm)")
    parser.add_argument("--calibrate", action=argparse.BooleanOptionalAction,
                        help="fit a temperature on the validation labels (reported as ECE after; "
                             "default: the kind's: off for m2 and m1m2, on for adgm and sdgm)")
    parser.add_argument("--class-balance", type=float,
                        help="λ of KL(the unlabelled batch's class shares ‖ p(y)) (default: the "
                             "kind's: 10 for adgm, 0 for the others)")
    parser.add_argument("--latent-dim", type=int, help="z's size (default: the kind's; paper: 100)")
    parser.add_argument("--auxiliary-dim", type=int,
                        help="a's size, ADGM and SDGM (default: the kind's, 50; paper: 100)")
    parser.add_argument("--hidden", type=checked(int_list),
                        help="hidden widths of the generative and inference networks, e.g. 500,500 "
                             "(default: the kind's; paper: 500,500)")
    parser.add_argument("--classifier-hidden", type=checked(int_list),
                        help="hidden widths of q(y | ...) (default: the kind's; paper: 500,500)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--work-dir", type=Path, help="keep the runs here (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="write every result here")
    return parser


def main() -> None:
    args = arguments().parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.work_dir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{args.dataset}, {args.labels} labels, {args.minutes:g} min per model and seed on "
              f"{args.device} ({args.threads} thread(s)), seeds {args.seeds}", flush=True)
        results = []
        for kind in args.models:
            for seed in args.seeds:
                results.append(run_one(kind, seed, args, folder))
                if args.json:
                    args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(table(results))
        for kind in args.models:
            print(f"  paper {kind}: {PAPER[kind][1]}")


if __name__ == "__main__":
    main()
