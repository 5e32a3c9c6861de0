"""Training state-space models on image sequences: their training task (configs: ssm_experiment).

The training itself is the one loop of vaelab.training.engine (sequence windows as the batch
source, the sequential bound as the objective), so a sequence run is resumable to the same
numbers and gets every feature of the loop, and its folder looks like any other run: config.json
(with "kind": "ssm"), metrics.jsonl, checkpoint.safetensors, model_best.safetensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from vaelab.data.pendulum import SequenceSet, load_pendulum, placebo
from vaelab.data.sequences import SequenceBatch
from vaelab.kinds.ssm_constants import least_squares_constants
from vaelab.kinds.ssm_experiment import (
    SequenceDataConfig,
    SequenceExperiment,
    SequenceTrainConfig,
    is_sequence_run,
)
from vaelab.models.ssm import StateSpaceModel, build_ssm
from vaelab.objectives.result import ObjectiveValue
from vaelab.objectives.sequential import sequential_elbo, sequential_iwae_bound
from vaelab.runs.checkpoint import CheckpointError, LoopState, load_run_weights
from vaelab.runs.distributed import resolve_device
from vaelab.runs.distributed import setup as setup_distributed
from vaelab.runs.files import CONFIG
from vaelab.training.batches import SequenceBatches, sequence_batch
from vaelab.training.callbacks import Callback, PhysicalConstants
from vaelab.training.engine import Loop, LoopSettings, TrainingTask, make_optimizer, run_training

SequenceObjective = Callable[[StateSpaceModel, SequenceBatch, float], ObjectiveValue]


def load_sequence_splits(config: SequenceDataConfig) -> dict[str, SequenceSet]:
    """Train / valid / test splits (train cut to `train_limit` sequences when set)."""
    splits = load_pendulum(config.pendulum, config.data_dir)
    if config.train_limit is not None and config.train_limit < len(splits["train"]):
        splits["train"] = splits["train"].subset(slice(0, config.train_limit))
    if config.torque == "placebo":
        splits = {name: placebo(data, config.pendulum.seed) if len(data) >= 2 else data
                  for name, data in splits.items()}
    return splits


def build_sequence_model(config: SequenceExperiment, data: SequenceSet) -> StateSpaceModel:
    """A fresh model for the experiment and data (seed the RNG first for repeatability)."""
    return build_ssm(config.model, data.frame_shape, data.dt, int(data.actions.shape[-1]))


def make_sequence_objective(config: SequenceTrainConfig) -> SequenceObjective:
    """objective(model, batch, kl_weight): the sequential ELBO (with free bits) or IWAE bound."""
    if config.objective == "elbo":
        return lambda model, batch, kl_weight: sequential_elbo(model, batch, config.samples, kl_weight,
                                                               config.free_bits)
    return lambda model, batch, kl_weight: sequential_iwae_bound(model, batch, config.samples)


def make_sequence_optimizer(model: StateSpaceModel, config: SequenceTrainConfig) -> torch.optim.Optimizer:
    """`make_optimizer`'s Adam, with the transition's own parameters (for a physics rule: a handful
    of scalars such as g/L and b) in a second group stepping `dynamics_lr_factor` times faster.
    Each group's "lr_factor" scales the scheduled learning rate."""
    optimizer = make_optimizer(model.emitter, config.learning_rate, config.weight_decay)
    optimizer.param_groups[0]["lr_factor"] = 1.0
    dynamics = {id(p) for p in model.dynamics.parameters()}
    seen = {id(p) for p in model.emitter.parameters()}
    rest = [p for p in model.parameters() if id(p) not in dynamics and id(p) not in seen]
    optimizer.add_param_group({"params": rest, "lr": config.learning_rate, "lr_factor": 1.0})
    if dynamics:
        optimizer.add_param_group({"params": list(model.dynamics.parameters()),
                                   "lr": config.learning_rate * config.dynamics_lr_factor,
                                   "lr_factor": config.dynamics_lr_factor,
                                   "weight_decay": 0.0})  # the transition is not shrunk
    return optimizer


@torch.no_grad()
def validation_bound_per_frame(model: StateSpaceModel, batch: SequenceBatch, batch_size: int = 100) -> float:
    """Mean single-sample sequential ELBO over a fixed validation set, nats per observed frame."""
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, batch.size, batch_size):
        part = SequenceBatch(batch.frames[start:start + batch_size], batch.actions[start:start + batch_size],
                             batch.mask[start:start + batch_size])
        total += sequential_elbo(model, part).bound.sum().item()
    model.train(was_training)
    return total / max(1.0, float(batch.mask.sum()))


def warm_start(model: StateSpaceModel, run_dir: Path | str, transition: bool = False) -> list[str]:
    """Copy into `model` every parameter and buffer of the run in `run_dir` whose name and shape
    match, except (unless `transition`) the transition's own (`dynamics.*`), which keep their
    fresh initialisation.

    Used to give competing dynamics hypotheses the same observation model (emitter, frame
    encoder, guide) so that their evidence differs by the rule, not by how far each decoder has
    been fitted. Returns the names copied."""
    source, _, _ = load_sequence_run(run_dir)
    theirs = source.state_dict()
    ours = model.state_dict()
    copied = [name for name, value in ours.items()
              if (transition or not name.startswith("dynamics.")) and name in theirs
              and theirs[name].shape == value.shape]
    with torch.no_grad():
        for name in copied:
            ours[name].copy_(theirs[name].to(ours[name].device))
    return copied


def guide_of_warm_start(config: SequenceExperiment) -> SequenceExperiment:
    """With `train.init_from` and the automatic guide, the guide of the run warm-started from:
    its guide's weights are copied, and they read the frames in one direction."""
    source_dir = Path(config.train.init_from or "")
    if not config.train.init_from or config.model.guide != "auto" or not is_sequence_run(source_dir):
        return config  # (a missing or foreign run is reported by the warm start itself)
    theirs = SequenceExperiment.load(source_dir / CONFIG).model.resolved_guide()
    if (theirs == "frame") != (config.model.transition == "none"):
        return config  # a frame-wise guide and a recurrent one share no weights worth matching
    return config.with_overrides({"model": {"guide": theirs}})


def learning_rate_at(config: SequenceTrainConfig, epoch: int, seconds: float) -> float:
    """Cosine decay from the learning rate to `final_lr_fraction` of it, paced by the epochs done
    or (with a time budget) the share of the budget spent, whichever is further along."""
    progress = epoch / max(1, config.epochs)
    if config.time_budget_minutes > 0:
        progress = max(progress, seconds / (60.0 * config.time_budget_minutes))
    progress = min(1.0, progress)
    floor = config.final_lr_fraction
    return config.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def settings_of(config: SequenceTrainConfig) -> LoopSettings:
    """The loop settings of a sequence experiment's [train] section."""
    return LoopSettings(epochs=config.epochs, seed=config.seed, grad_clip=config.grad_clip,
                        grad_skip=config.grad_skip,
                        kl_warmup_steps=config.kl_warmup_steps,
                        time_budget_minutes=config.time_budget_minutes, compile=config.compile,
                        precision=config.precision, ema_decay=config.ema_decay)


class WarmStart(Callback):
    """A fresh run's model starts from another run's weights (`train.init_from`; see
    `warm_start`) and, with `init_constants = "least-squares"`, its physical constants from a
    least-squares fit on the guide's first state estimates. Done before anything is written, so
    a failure leaves no half-made run; a resumed run loads its own weights instead."""

    def __init__(self, config: SequenceTrainConfig, train: SequenceSet) -> None:
        self.config, self.train = config, train

    def on_train_start(self, loop: Loop) -> None:
        cfg, model = self.config, loop.model
        if loop.resuming:
            return
        if cfg.init_from:
            copied = warm_start(model, cfg.init_from, cfg.init_transition)
            loop.say(f"warm start from {cfg.init_from}: {len(copied)} of {len(model.state_dict())} "
                     "tensors copied" + ("" if cfg.init_transition else " (the transition's own stay fresh)"))
        if cfg.init_constants == "least-squares" and not cfg.init_transition:
            fitted = least_squares_constants(model, self.train)
            if fitted is not None:
                loop.say("constants start at the least-squares fit on the guide's first state estimates: "
                         + ", ".join(f"{name} {value:.3f}" for name, value in fitted.items()))


def sequence_task(config: SequenceExperiment, model: StateSpaceModel, splits: dict[str, SequenceSet],
                  device: torch.device) -> TrainingTask:
    """What the training loop needs for a state-space model: windows of sequences, the sequential
    bound, a per-frame validation bound, the learned constants in every record, a warm start."""
    cfg = config.train
    valid = sequence_batch(splits["valid"], model.data_kind, device) if len(splits["valid"]) > 0 else None

    def validate(model: StateSpaceModel) -> float | None:
        return validation_bound_per_frame(model, valid) if valid is not None else None

    return TrainingTask(
        model=model, optimizer=make_sequence_optimizer(model, cfg),
        objective=make_sequence_objective(cfg),
        batches=SequenceBatches(splits["train"], model.data_kind, cfg.batch_size, cfg.seed, device,
                                cfg.window),
        learning_rate=lambda epoch, seconds: learning_rate_at(cfg, epoch, seconds),
        save_config=config.save, validate=validate, score_name="bound_per_frame", unit="nats/frame",
        callbacks=[PhysicalConstants(), WarmStart(cfg, splits["train"])])


def fit_sequences(
    config: SequenceExperiment,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    callbacks: Sequence[Callback] = (),
    more_time: str | None = None,
) -> tuple[StateSpaceModel, LoopState]:
    """Train (or continue) the configured state-space model in `run_dir`; returns model and state.
    `callbacks` run at the loop's named moments (vaelab.training.callbacks); `more_time` says
    how to train further once the time budget is used up (see `run_training`)."""
    config = guide_of_warm_start(config)
    cfg = config.train
    context = setup_distributed(cfg.device)
    torch.manual_seed(cfg.seed)
    splits = load_sequence_splits(config.data)
    model = build_sequence_model(config, splits["train"]).to(context.device)
    task = sequence_task(config, model, splits, context.device)
    loop = run_training(task, settings_of(cfg), Path(run_dir), context, resume=resume, progress=progress,
                        log=log, callbacks=callbacks,
                        more_time=more_time)
    return model, loop


def load_sequence_run(
    run_dir: Path | str, best: bool = True, device: str = "cpu", data: bool = True,
    data_dir: str | None = None,
) -> tuple[StateSpaceModel, SequenceExperiment, dict[str, SequenceSet] | None]:
    """Rebuild a sequence run's model from its config and weights (best weights when present);
    with `data=False` from the config alone (frames and actions as the simulator makes them) and
    without simulating the splits. `data_dir`: the folder to read (or cache) the simulated data
    in instead of the run's own data.data_dir."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise CheckpointError(f"{run_dir} is not a vaelab run folder (no {CONFIG}); "
                              "pass the folder that `vaelab train --model ssm` wrote")
    if not is_sequence_run(run_dir):
        raise CheckpointError(f"{run_dir} holds a frame model, not a sequence model (train one with "
                              "`vaelab train --model ssm --dataset pendulum`)")
    config = SequenceExperiment.load(run_dir / CONFIG)
    data_config = config.data if data_dir is None else replace(config.data, data_dir=data_dir)
    splits = load_sequence_splits(data_config) if data else None
    pendulum = config.data.pendulum
    model = build_ssm(config.model, (1, pendulum.image_size, pendulum.image_size), pendulum.dt, 1)
    load_run_weights(run_dir, model, best)
    return model.to(resolve_device(device)).eval(), config, splits


__all__ = [
    "WarmStart",
    "build_sequence_model",
    "fit_sequences",
    "load_sequence_run",
    "load_sequence_splits",
    "make_sequence_objective",
    "sequence_task",
    "warm_start",
]
