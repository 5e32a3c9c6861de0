"""Train a semi-supervised run end to end: C from the data, M1 first for M1+M2, then M2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vaelab.runs.checkpoint import CheckpointError
from vaelab.runs.distributed import restarted_by_launcher
from vaelab.runs.files import BEST_WEIGHTS, CHECKPOINT, CONFIG
from vaelab.runs.log import print_now
from vaelab.training.config import ExperimentConfig
from vaelab.training.experiment import best_weights_score, data_kind_of, load_experiment_splits
from vaelab.training.loop import fit
from vaelab.training.semisupervised import SemiSupervisedExperiment, check_m1_matches, resolve_classes

M1_FOLDER = "m1"


def fit_semisupervised(config: SemiSupervisedExperiment, run_dir: Path, resume: bool = False,
                       progress: bool = True, log: Callable[[str], None] | None = None,
                       more_time: str | None = None) -> SemiSupervisedExperiment:
    """Train (or resume) the run in `run_dir`; returns the config as saved (C and M1 filled in).

    An M1+M2 run without `m1_run` first trains M1 — a VAE on every training image, the
    experiment's [model], `m1_epochs` / `m1_time_budget_minutes` — into RUN/m1 (continuing it if
    a previous attempt was interrupted), then trains M2 on M1's features with the usual loop.
    `more_time` says how to train M2 further once its time budget is used up.
    """
    log = log or print_now
    run_dir = Path(run_dir)
    if not resume and restarted_by_launcher() and (run_dir / CHECKPOINT).exists():
        # torchrun re-ran the fresh command after a failure: continue M2 with the saved config
        # (classes and M1 filled in), as the training loop does for any other run
        config, resume = SemiSupervisedExperiment.load(run_dir / CONFIG), True
    if not resume:
        if (run_dir / CHECKPOINT).exists():
            raise FileExistsError(f"{run_dir} already holds a run; use --resume {run_dir} to "
                                  "continue it or choose another --run-dir")
        splits = load_experiment_splits(config, data_kind_of(config))
        best_weights_score(config, splits)  # refused here, before M1 trains, if it cannot work
        config = resolve_classes(config, splits.train)
        semi = config.semisupervised
        if semi.kind == "m1m2":
            if semi.m1_run is None:
                m1_dir = (run_dir / M1_FOLDER).resolve()
                log(f"M1: a VAE on every training image -> {m1_dir}")
                fit(config.m1_config(), m1_dir, resume=(m1_dir / CHECKPOINT).is_file(),
                    progress=progress, log=log, more_time="M1 stops there; M2 trains on it next")
                config = replace(config, semisupervised=replace(semi, m1_run=str(m1_dir)))
            else:
                m1_dir = Path(semi.m1_run)
                if not (m1_dir / CONFIG).is_file():
                    raise CheckpointError(f"M1 run {m1_dir} is not a vaelab run folder (no {CONFIG})")
                check_m1_matches(config, ExperimentConfig.load(m1_dir / CONFIG))
                if not (m1_dir / BEST_WEIGHTS).is_file():
                    raise CheckpointError(f"M1 run {m1_dir} has no {BEST_WEIGHTS}")
        log(f"{semi.kind}: {semi.labels} labels, {config.semisupervised.classes} classes -> {run_dir}")
    fit(config, run_dir, resume=resume, progress=progress, log=log, more_time=more_time)
    return config
