"""Report generation time for a finished MNIST-size run (target: < 30 s on 2 CPU cores).

Without RUN it first trains the default model (MLP 784-512-512-32, Bernoulli likelihood) on
the embedded 5,000-digit MNIST subset for a few epochs in a temporary folder, evaluates it and
runs the estimator comparison, so every section of the report has something to show. Then it
times `vaelab report RUN` twice over: in this process (`write_report`, median of --repeats;
loading the run included) and as the command a user types (a fresh interpreter, imports
included). Latent statistics use the whole 1,000-image test set.

    python bench/report.py [RUN] [--epochs 3] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vaelab.evaluation.run import evaluate_run
from vaelab.kinds import load_run
from vaelab.reports import write_report
from vaelab.training import ExperimentConfig, fit
from vaelab.training.experiment import load_trained_model


def train_run(run_dir: Path, epochs: int) -> None:
    """The default VAE on mnist-5k, evaluated (k = 100) with an estimator comparison."""
    config = ExperimentConfig().with_overrides({
        "data": {"dataset": "mnist-5k"},
        "train": {"epochs": epochs, "eval_samples": 100, "eval_examples": 0},
    })
    fit(config, run_dir, progress=False, log=lambda message: None)
    evaluate_run(run_dir, load_trained_model, k=100, examples=0, compare=True, ks=(1, 10, 100),
                 compare_examples=50, log=lambda message: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="finished run folder (default: train one)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs when training the run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        run = args.run
        if run is None:
            run = Path(scratch) / "run"
            started = time.perf_counter()
            train_run(run, args.epochs)
            print(f"trained and evaluated a {args.epochs}-epoch run in "
                  f"{time.perf_counter() - started:.0f} s: {run}")
        out = Path(scratch) / "report.html"
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            write_report([run], load_run, out=out)
            seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vaelab", "report", str(run), "--out", str(out)],
                       check=True, capture_output=True)
        command = time.perf_counter() - started
        size = out.stat().st_size
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"report.html: {size / 1e6:.2f} MB")
    print(f"write_report (in process, median of {args.repeats}): {statistics.median(seconds):.2f} s "
          f"(all: {', '.join(f'{s:.2f}' for s in seconds)})")
    print(f"`vaelab report RUN` (fresh interpreter): {command:.2f} s   target < 30 s")


if __name__ == "__main__":
    main()
