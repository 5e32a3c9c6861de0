"""The tiny fixed-seed runs whose numbers `baseline.json` records: one table for the recorder
(`record_baseline.py`) and the test (`test_compatibility.py`), so the two cannot drift apart.

Each spec is a `vaelab train` command (without --run-dir) and, optionally, a `vaelab evaluate RUN`
command; `run_spec` runs both in-process and returns their numbers: the per-epoch records of
RUN/metrics.jsonl and the numeric parts of RUN/metrics.json after training and after evaluating,
without wall-clock times or file paths.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vaelab.cli.main import main

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
#: committed run folders written by the pre-refactor code: RUNS / kind
RUNS = HERE / "runs"
#: files of a run folder that are kept as a committed fixture (no pictures, no animations)
FIXTURE_SUFFIXES = (".json", ".jsonl", ".safetensors")
FIXTURE_MAX_BYTES = 200_000

#: a copy of a committed run folder is resumed to this many epochs: one more than it has
RESUME_EPOCHS = 3
#: how a copy of the committed ssm run is evaluated (`vaelab evaluate` is for frame and
#: semi-supervised runs; a sequence run is evaluated by `vaelab compare` and `vaelab predict`)
SSM_COMPARE = ("-k", "2", "--sequences", "3", "--seed", "1", "--device", "cpu")
SSM_PREDICT = ("--context", "5", "--horizon", "15", "--sequences", "2", "--device", "cpu")

#: keys dropped from every record: wall-clock measurements and where files went
DROPPED_KEYS = frozenset({"seconds", "files"})

# Frame models (vae, iwae, hierarchical): the embedded 5,000-digit MNIST subset, offline.
# --hidden 8 rather than the CLI tests' 32 keeps the committed vae run folder's checkpoint
# (weights + Adam moments) under FIXTURE_MAX_BYTES.
FRAME = ("--dataset", "mnist-5k", "--epochs", "2", "--train-limit", "256", "--hidden", "8",
         "--batch-size", "64", "--eval-samples", "20", "--eval-examples", "64", "--seed", "0",
         "--device", "cpu", "--no-progress")
FRAME_EVALUATE = ("-k", "10", "--examples", "32", "--seed", "1", "--device", "cpu")

# Sequence model: the tiny pendulum of tests/cli/test_sequence_cli.py, simulated into the
# (isolated) cache; only a config file reaches the encoder / RNN / combiner widths.
SSM_CONFIG: dict[str, Any] = {
    "model": {"encoder_hidden": [16, 8], "rnn_hidden": 8, "combiner_hidden": 8, "decoder_hidden": [16],
              "transition_hidden": 8, "guide": "filter"},  # the guide of the recorded runs
    "data": {"pendulum": {"train_sequences": 24, "train_length": 12, "valid_sequences": 4,
                          "valid_length": 12, "test_sequences": 6, "test_length": 20, "image_size": 16}},
    "train": {"batch_size": 8, "init_constants": "fixed"},  # the constants' start of the recorded runs
}

# Semi-supervised models: the sizes of tests/cli/test_semisupervised_cli.py and
# tests/kinds/test_semisupervised_training.py.
SEMI = ("--dataset", "mnist-5k", "--train-limit", "300", "--validation-size", "100", "--labels", "20",
        "--classifier-hidden", "16", "--batch-size", "50", "--labelled-batch-size", "20",
        "--eval-samples", "5", "--eval-examples", "30", "--epochs", "1", "--seed", "0", "--device", "cpu",
        "--no-progress")
SEMI_EVALUATE = ("-k", "3", "--examples", "20", "--seed", "1", "--device", "cpu")


@dataclass(frozen=True)
class RunSpec:
    """One kind's tiny run: `vaelab train TRAIN --run-dir RUN`, then `vaelab evaluate RUN EVALUATE`."""

    kind: str
    train: tuple[str, ...]
    evaluate: tuple[str, ...] | None = None
    #: written to a JSON file passed as --config (settings that have no flag)
    config: dict[str, Any] | None = None
    #: kept as a committed "old run folder" under RUNS / kind (trained for 2 epochs; the
    #: check resumes a copy to RESUME_EPOCHS)
    fixture: bool = False


SPECS: tuple[RunSpec, ...] = (
    RunSpec("vae", (*FRAME, "--latent-dim", "4"), FRAME_EVALUATE, fixture=True),
    RunSpec("iwae", (*FRAME, "--latent-dim", "4", "--objective", "iwae", "--samples", "3"), FRAME_EVALUATE),
    RunSpec("hierarchical", (*FRAME, "--latent-dim", "8", "--upper-latents", "4", "--upper-hidden", "16"),
            FRAME_EVALUATE),
    RunSpec("ssm", ("--model", "ssm", "--dataset", "pendulum", "--epochs", "2", "--eval-samples", "2",
                    "--eval-examples", "3", "--seed", "0", "--device", "cpu", "--no-progress"),
            None, config=SSM_CONFIG, fixture=True),
    RunSpec("m2", ("--model", "m2", "--latent-dim", "4", "--hidden", "16", *SEMI), SEMI_EVALUATE),
    RunSpec("m1m2", ("--model", "m1m2", "--latent-dim", "8", "--hidden", "16", "--m1-epochs", "1",
                     "--m1-features", "mean",
                     "--m2-latent-dim", "4", "--m2-hidden", "16", *SEMI), SEMI_EVALUATE),
)
SPEC_BY_KIND: dict[str, RunSpec] = {spec.kind: spec for spec in SPECS}


@contextmanager
def isolated(cache: Path) -> Iterator[None]:
    """What tests/conftest.py gives every test: one thread, seed 0, a private cache, no downloads."""
    saved = {name: os.environ.get(name) for name in ("XDG_CACHE_HOME", "VAELAB_DATA", "VAELAB_MIRROR")}
    threads = torch.get_num_threads()
    os.environ["XDG_CACHE_HOME"] = str(cache)
    os.environ.pop("VAELAB_DATA", None)
    os.environ["VAELAB_MIRROR"] = "file:///nonexistent-vaelab-mirror"
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def numbers(value: Any) -> Any:
    """The numeric parts of a metrics record: numbers (and lists / dicts of them), nothing else.

    Strings (paths, names) and wall-clock keys are dropped; empty containers left behind go too.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in DROPPED_KEYS:
                continue
            kept = numbers(item)
            if kept is not None:
                out[key] = kept
        return out or None
    if isinstance(value, list):
        kept = [numbers(item) for item in value]
        return kept if kept and all(item is not None for item in kept) else None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int | float):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    return None


def epoch_records(run_dir: Path) -> list[dict[str, Any]]:
    """RUN/metrics.jsonl, one dict per epoch, numbers only."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [numbers(json.loads(line)) for line in lines if line.strip()]


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """RUN/metrics.json, numbers only."""
    return numbers(json.loads((run_dir / "metrics.json").read_text())) or {}


def latest_evaluation(run_dir: Path) -> dict[str, Any]:
    """The numbers of the run's newest evaluation (RUN/evaluations/...; metrics.json headlines
    the strongest evaluation, which need not be the one just made)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    latest = metrics["evaluations"]["latest"]["file"]
    return numbers(json.loads((run_dir / latest).read_text())["results"]) or {}


def cli(*argv: str) -> None:
    """`vaelab ARGV` in-process; a non-zero exit status fails loudly."""
    code = main(list(argv))
    if code != 0:
        raise RuntimeError(f"vaelab {' '.join(argv)} exited with {code}")


def train_argv(spec: RunSpec, run_dir: Path) -> list[str]:
    """The spec's `vaelab train` command into `run_dir` (writing its config file beside it)."""
    argv = ["train", *spec.train, "--run-dir", str(run_dir)]
    if spec.config is not None:
        config = run_dir.parent / f"{spec.kind}-config.json"
        config.write_text(json.dumps(spec.config, indent=1) + "\n")
        argv += ["--config", str(config)]
    return argv


def run_spec(spec: RunSpec, run_dir: Path) -> dict[str, Any]:
    """Train (and evaluate) one spec into `run_dir`; the numbers the baseline records."""
    cli(*train_argv(spec, run_dir))
    result: dict[str, Any] = {"epochs": epoch_records(run_dir), "train_metrics": run_metrics(run_dir)}
    if spec.evaluate is not None:
        cli("evaluate", str(run_dir), *spec.evaluate)
        result["evaluate_metrics"] = latest_evaluation(run_dir)
    if (run_dir / "m1").is_dir():  # m1m2: the M1 VAE trained first, in RUN/m1
        result["m1_epochs"] = epoch_records(run_dir / "m1")
    return result


def load_baseline() -> dict[str, Any]:
    """baseline.json: {"kinds": {kind: numbers}, ...}."""
    return json.loads(BASELINE.read_text())


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b[0].c": number}: nested records as one flat dict, which pytest.approx can compare."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def copy_fixture(kind: str, destination: Path) -> Path:
    """A writable copy of the committed run folder RUNS / kind (the fixture itself is never touched)."""
    shutil.copytree(RUNS / kind, destination)
    return destination


def check_old_run(kind: str, workdir: Path) -> dict[str, Any]:
    """Evaluate, then resume by one epoch, a copy of the committed run folder of `kind`.

    Returns the numbers: the evaluation's and the resumed epoch's record.
    """
    spec = SPEC_BY_KIND[kind]
    run = copy_fixture(kind, workdir / kind)
    result: dict[str, Any] = {}
    if spec.evaluate is not None:
        cli("evaluate", str(run), *spec.evaluate)
        result["evaluate_metrics"] = latest_evaluation(run)
    else:  # a sequence run: the evidence table of two copies, and predictions
        other = copy_fixture(kind, workdir / f"{kind}-again")
        table = workdir / f"{kind}-compare.json"
        cli("compare", str(run), str(other), *SSM_COMPARE, "--json", str(table))
        result["compare"] = numbers(json.loads(table.read_text()))
        cli("predict", str(run), *SSM_PREDICT)
    before = len(epoch_records(run))
    cli("train", "--resume", str(run), "--epochs", str(RESUME_EPOCHS), "--no-progress", "--no-eval")
    records = epoch_records(run)
    if len(records) != RESUME_EPOCHS or before != RESUME_EPOCHS - 1:
        raise RuntimeError(f"{kind}: resuming a run of {before} epochs to {RESUME_EPOCHS} left "
                           f"{len(records)} epoch records")
    result["resumed_epoch"] = records[-1]
    return result
