"""Reproduction table: test log-likelihood on MNIST beside the published figures.

Each row trains one published protocol with vaelab's own training loop for a time budget,
then estimates log p(x) on the test set by importance sampling with k = 5,000 (Burda et al.'s
evaluation), and prints our −log p(x) (mean over seeds ± std across seeds, and the standard
error of the test mean) beside the paper's. The papers train for days on a GPU (Burda et al.:
3,280 epochs); `--minutes` sets the budget per row and seed, so a CPU row shows progress and a
GPU row at the paper's budget checks the claim.

    python bench/likelihood.py --data-dir ../shared/data --rows vae-1 --minutes 30 --seeds 0
    python bench/likelihood.py --rows all --minutes 600 --seeds 0 1 2 --device cuda

`--schedule burda` (the default) is the paper's learning-rate protocol, paced by epochs, so a
short budget stops it in its early high-rate stages; `--schedule cosine` decays the rate over the
time budget instead (see bench/README.md for the vae-1 recipe). Each run folder is kept under
`--runs-dir` (git-ignored), and the results JSON records its learning curve.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vaelab.kinds.vae import PRESETS
from vaelab.runs.log import print_now
from vaelab.runs.metrics_log import read_metrics
from vaelab.training import ExperimentConfig, fit
from vaelab.training.config import LR_SCHEDULES


@dataclass(frozen=True)
class Row:
    """One published protocol: what to train and the figure it reached."""

    name: str
    description: str
    paper_nll: float
    source: str
    model: dict
    train: dict
    dataset: str = "mnist"


DEEP = PRESETS["deep"]
BURDA_1 = {"latent_dim": 50, "hidden": (200, 200), "activation": "tanh"}
BURDA_2 = {"latent_dim": 100, "hidden": (200, 200), "upper_latents": (50,),
           "upper_hidden": (100, 100), "activation": "tanh"}
ROWS = {
    row.name: row for row in [
        Row("vae-1", "VAE, 1 stochastic layer (50)", 86.76, "Burda et al. 2016, Table 1",
            BURDA_1, {"objective": "elbo", "samples": 1}),
        Row("iwae5-1", "IWAE k=5, 1 layer", 85.54, "Burda et al. 2016, Table 1",
            BURDA_1, {"objective": "iwae", "samples": 5}),
        Row("iwae50-1", "IWAE k=50, 1 layer", 84.78, "Burda et al. 2016, Table 1",
            BURDA_1, {"objective": "iwae", "samples": 50}),
        Row("vae-2", "VAE, 2 stochastic layers (100, 50)", 85.33, "Burda et al. 2016, Table 1",
            BURDA_2, {"objective": "elbo", "samples": 1}),
        Row("iwae50-2", "IWAE k=50, 2 layers", 82.90, "Burda et al. 2016, Table 1",
            BURDA_2, {"objective": "iwae", "samples": 50}),
        Row("vamp-1", "VAE + VampPrior (500 pseudo-inputs)", 85.57, "Tomczak & Welling 2018",
            {"latent_dim": 40, "hidden": (300, 300), "activation": "tanh", "prior": "vamp",
             "prior_components": 500}, {"objective": "elbo", "samples": 1,
                                        "kl_warmup_steps": 100 * 469}),
        Row("hvamp-iwae50-2", "IWAE k=50, 2 layers + VampPrior on z_2 (500 pseudo-inputs)", 83.19,
            "Tomczak & Welling 2018, Table 2: HVAE (L = 2) + VampPrior, dynamic MNIST (their own "
            "two-level networks, ELBO); Burda's 2-layer IWAE: 82.90",
            {**BURDA_2, "prior": "vamp", "prior_components": 500},
            {"objective": "iwae", "samples": 50}),
        Row("ladder-2", "ladder VAE (top-down guide), Burda's 2-layer networks", 85.33,
            "Burda et al. 2016's 2-layer VAE (Sønderby et al. 2016 report their ladder with "
            "batch norm and warm-up, not this protocol)", {**BURDA_2, "inference": "top-down"},
            {"objective": "elbo", "samples": 1}),
        Row("residual-2", "top-down guide with residual-normal posteriors, Burda's 2-layer networks",
            85.33, "Burda et al. 2016's 2-layer VAE", {**BURDA_2, "inference": "residual"},
            {"objective": "elbo", "samples": 1}),
        Row("deep", "`--model deep`: top-down hierarchy, 3 groups of 24, width 256, ELU, "
            "free bits 2, weight decay 0.03 (the preset)",
            78.01, "NVAE (Vahdat & Kautz 2020), dynamically binarized MNIST, GPU days",
            DEEP["model"], {k: v for k, v in DEEP["train"].items() if k != "batch_size"}),
        Row("static-iwae50-1", "IWAE k=50, 1 layer, Larochelle's static binarization", 87.1,
            "as cited in the issue (IWAE paper appendix)", BURDA_1,
            {"objective": "iwae", "samples": 50}, dataset="binarized-mnist"),
    ]
}


def run_row(row: Row, seed: int, minutes: float, args: argparse.Namespace, workdir: Path) -> dict:
    """Train one row for `minutes` with one seed, then evaluate; returns the numbers."""
    config = ExperimentConfig().with_overrides({
        "model": {"likelihood": "bernoulli", **row.model,
                  **(deep_options(args) if row.model.get("architecture") == "deep" else {})},
        "data": {"dataset": row.dataset, "data_dir": args.data_dir, "validation_size": 0},
        "train": {"epochs": args.max_epochs, "batch_size": batch_size_of(args),
                  "learning_rate": args.lr, "lr_schedule": args.schedule,
                  "final_lr_fraction": args.final_lr_fraction, "seed": seed,
                  "device": args.device, "time_budget_minutes": minutes,
                  "precision": "bf16" if args.bf16 else "fp32",
                  **row.train, **train_overrides(args)},
    })
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = workdir / f"{row.name}-seed{seed}-{args.schedule}-{stamp}"
    print_now(f"{row.name} seed {seed}: training in {run_dir} ({args.schedule} schedule, lr "
              f"{config.train.learning_rate:g}, batch {batch_size_of(args)}, {minutes:g} min)")
    started = time.perf_counter()
    _, loop = fit(config, run_dir, progress=False, log=print_now)
    return evaluate_row(row, config, run_dir, loop, time.perf_counter() - started, args)


def resume_row(row: Row, run_dir: Path, minutes: float, args: argparse.Namespace) -> dict:
    """Continue a kept run folder under a new time budget, then evaluate it.

    The cosine schedule re-paces itself to the new budget (a shorter one moves the rate further
    down its curve at once), so a run can be shortened to leave time for its evaluation."""
    config = ExperimentConfig.load(run_dir / "config.json").with_overrides(
        {"train": {"time_budget_minutes": minutes}})
    config.save(run_dir / "config.json")
    print_now(f"{row.name}: resuming {run_dir} with a budget of {minutes:g} min")
    started = time.perf_counter()
    _, loop = fit(config, run_dir, resume=True, progress=False, log=print_now)
    return evaluate_row(row, config, run_dir, loop, time.perf_counter() - started, args)


def evaluate_row(row: Row, config: ExperimentConfig, run_dir: Path, loop, wall_seconds: float,
                 args: argparse.Namespace) -> dict:
    """k-sample importance sampling on the test digits; the row's numbers and learning curve."""
    # imported here, after training, so a long run picks up the evaluation code as it is then
    from vaelab.evaluation.run import evaluate_run
    from vaelab.training.experiment import load_trained_model

    seed, train = config.train.seed, config.train
    print_now(f"{row.name} seed {seed}: evaluating (k={args.eval_k}, "
              f"{args.eval_examples or 'all'} test images)")
    metrics = evaluate_run(run_dir, load_trained_model, k=args.eval_k, examples=args.eval_examples,
                           device=args.device, seed=seed, log=print_now, bernoulli_shortcut=True)
    test = metrics["test"]
    curve = [{key: record.get(key) for key in ("epoch", "seconds", "train_bound", "learning_rate")}
             for record in read_metrics(run_dir)]
    # train_seconds: this process's wall time in fit (with data loading and checkpoints);
    # loop_seconds: the training time the budget counts, over all sessions of the run
    return {"row": row.name, "seed": seed, "epochs": loop.epoch, "train_seconds": wall_seconds,
            "loop_seconds": loop.seconds, "budget_minutes": train.time_budget_minutes,
            "nll": -test["log_px_is"]["mean"], "nll_stderr": test["log_px_is"]["stderr"],
            "neg_elbo": -test["elbo"]["mean"], "neg_elbo_stderr": test["elbo"]["stderr"],
            "examples": test["examples"], "eval_seconds": test["seconds"],
            "schedule": train.lr_schedule, "lr": train.learning_rate,
            "final_lr_fraction": train.final_lr_fraction, "batch_size": train.batch_size,
            "precision": train.precision, "weight_decay": train.weight_decay,
            "dropout": config.model.dropout, "normalization": config.model.normalization,
            "objective": train.objective, "samples": train.samples, "free_bits": train.free_bits,
            "run_dir": str(run_dir), "curve": curve}


def train_overrides(args: argparse.Namespace) -> dict:
    """The training settings given on the command line that replace the row's own."""
    given = {"weight_decay": args.weight_decay, "objective": args.objective, "samples": args.samples,
             "free_bits": args.free_bits}
    return {key: value for key, value in given.items() if value is not None}


def deep_options(args: argparse.Namespace) -> dict:
    """The deep row's model options given on the command line (other rows have none)."""
    return {"dropout": args.dropout, "normalization": args.normalization}


def batch_size_of(args: argparse.Namespace) -> int:
    """--batch-size, else Burda's 20 with --paper-batch, else 100."""
    if args.batch_size is not None:
        return args.batch_size
    return 20 if args.paper_batch else 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=["vae-1"],
                        help=f"rows to run, or 'all': {', '.join(ROWS)}")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per row and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir", default=None, help="folder with MNIST files (or $VAELAB_DATA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-k", type=int, default=5000)
    parser.add_argument("--eval-examples", type=int, default=0, help="test images (0 = all 10,000)")
    parser.add_argument("--max-epochs", type=int, default=3280)
    parser.add_argument("--paper-batch", action="store_true", help="batch 20 as in Burda et al.")
    parser.add_argument("--batch-size", type=int, default=None, help="default 100 (20 with --paper-batch)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (peak for cosine)")
    parser.add_argument("--schedule", choices=LR_SCHEDULES, default="burda",
                        help="learning-rate schedule: burda (the paper's, by epochs) or cosine "
                             "(decays over the time budget)")
    parser.add_argument("--final-lr-fraction", type=float, default=0.01,
                        help="cosine: the last learning rate as a fraction of --lr")
    parser.add_argument("--runs-dir", type=Path, default=Path(__file__).parent / "results" / "runs",
                        help="where the run folders are kept (git-ignored)")
    parser.add_argument("--resume-run", type=Path, default=None,
                        help="continue this kept run folder (of the one row given) with --minutes "
                             "as its new training budget, then evaluate it")
    parser.add_argument("--bf16", action="store_true",
                        help="train under bfloat16 autocast (pays on CPUs with AVX512-BF16 or AMX)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="AdamW's decoupled weight decay (0 = plain Adam; default: the row's, "
                             "0.03 for deep, else 0)")
    parser.add_argument("--objective", default=None,
                        help="train this objective instead of the row's (e.g. iwae; with --samples)")
    parser.add_argument("--samples", type=int, default=None, help="its k (IWAE samples)")
    parser.add_argument("--free-bits", type=float, default=None,
                        help="free bits per group instead of the row's (0 for an IWAE objective)")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout rate of the deep row's cells and decoder (0 = none)")
    parser.add_argument("--normalization", default="none", choices=("none", "batch"),
                        help="the deep row's normalization of its hidden layers")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    names = list(ROWS) if args.rows == ["all"] else args.rows
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    results = []
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    if args.resume_run is not None and len(names) != 1:
        parser.error("--resume-run continues one run: give the one row it belongs to")
    for name in names:
        for seed in args.seeds if args.resume_run is None else [None]:
            if args.resume_run is not None:
                result = resume_row(ROWS[name], args.resume_run, args.minutes, args)
                seed = result["seed"]
            else:
                result = run_row(ROWS[name], seed, args.minutes, args, args.runs_dir)
            results.append(result)
            if args.out:  # written after every row, so a later failure keeps the finished ones
                write_results(args, device, results)
            print(f"{name} seed {seed}: {result['epochs']} epochs in "
                  f"{result['loop_seconds'] / 60:.1f} min of training, -log p(x) {result['nll']:.2f} "
                  f"± {result['nll_stderr']:.2f} (k={args.eval_k}, {result['examples']} test "
                  f"images), -ELBO {result['neg_elbo']:.2f}, evaluation "
                  f"{result['eval_seconds'] / 60:.1f} min", flush=True)
    print(f"\ndevice {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"budget {args.minutes:g} min per row and seed, seeds {args.seeds}, "
          f"IS k = {args.eval_k}\n")
    print("| row | protocol | epochs | ours −log p(x) (nats) | paper | gap | source |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name in names:
        mine = [r for r in results if r["row"] == name]
        nll = [r["nll"] for r in mine]
        spread = f" ± {statistics.stdev(nll):.2f} (seeds)" if len(nll) > 1 else \
            f" ± {mine[0]['nll_stderr']:.2f} (s.e.)"
        row = ROWS[name]
        mean = statistics.mean(nll)
        print(f"| {name} | {row.description} | {statistics.mean(r['epochs'] for r in mine):.0f} | "
              f"{mean:.2f}{spread} | {row.paper_nll:.2f} | {mean - row.paper_nll:+.2f} | "
              f"{row.source} |")
    if args.out:
        write_results(args, device, results)


def write_results(args: argparse.Namespace, device: str, results: list[dict]) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": device, "threads": torch.get_num_threads(),
                                    "torch": torch.__version__, "minutes": args.minutes,
                                    "eval_k": args.eval_k, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
