"""Training an experiment of an image model (the VAE and its variants) from its config.

`fit(config, run_dir)` builds the configured model, data and objective and hands them to the one
training loop (vaelab.training.engine), which knows nothing about what kind of model it trains.
`image_task` is the task of any image experiment given its model and objective: a kind whose
runs are image experiments too (semi-supervised M2, M1+M2) builds its own on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from vaelab.data.imageset import ImageSet
from vaelab.data.representation import to_model_space
from vaelab.data.splits import SPLIT_SEED, Splits
from vaelab.data.streamed import StreamedImages
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.elbo import elbo
from vaelab.objectives.registry import make_objective
from vaelab.runs.checkpoint import LoopState
from vaelab.runs.distributed import Distributed
from vaelab.runs.distributed import setup as setup_distributed
from vaelab.training.batches import image_batches, streamed_batches
from vaelab.training.callbacks import ActiveUnits, Callback
from vaelab.training.config import ConfigError, ExperimentConfig, learning_rate_at
from vaelab.training.engine import (
    LoopSettings,
    NonFiniteLossError,
    Objective,
    RunningMeans,
    TrainingTask,
    check_finite,
    kl_weight_at,
    make_optimizer,
    run_training,
    train_step,
)
from vaelab.training.experiment import build_model, data_kind_of, load_experiment_splits, record_data


@torch.no_grad()
def held_out_bound(model: LatentVariableModel, images: ImageSet | StreamedImages, data_kind: str,
                   context: Distributed | None = None, batch_size: int = 1000) -> float:
    """Mean single-sample ELBO over held-out images (nats per example), put in the model's units
    a chunk at a time, so no float copy of the set is ever held; grey images meeting a Bernoulli
    likelihood are binarized with a fixed seed, the same sample every call. With a distributed
    `context`, each rank scores every world_size-th image (binarized from its own seed) and the
    mean is over all of them."""
    device = next(model.parameters()).device
    rank, world = (context.rank, context.world_size) if context is not None else (0, 1)
    rows = torch.arange(rank, len(images), world)
    fixed = torch.Generator(device=device).manual_seed(SPLIT_SEED + rank)
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)
    for start in range(0, rows.shape[0], batch_size):
        index = rows[start:start + batch_size]
        chunk = (images.images[index] if isinstance(images, ImageSet) else images.read(index.numpy()))
        x = to_model_space(chunk.to(device), images.binary, data_kind, fixed)
        bound = elbo(model, x).bound
        total += torch.stack([bound.double().sum(), bound.new_tensor(bound.numel()).double()])
    model.train()
    if context is not None:
        total = context.sum(total)
    return (total[0] / total[1]).item()


def settings_of(config: ExperimentConfig) -> LoopSettings:
    """The loop settings of a frame experiment's [train] section."""
    t = config.train
    return LoopSettings(epochs=t.epochs, seed=t.seed, grad_clip=t.grad_clip, grad_skip=t.grad_skip,
                        kl_warmup_steps=t.kl_warmup_steps, patience=t.patience,
                        time_budget_minutes=t.time_budget_minutes, compile=t.compile,
                        precision=t.precision, ema_decay=t.ema_decay)


def image_task(config: ExperimentConfig, model: LatentVariableModel, splits: Splits,
               objective: Objective, context: Distributed, select_by: str | None = None,
               callbacks: Sequence[Callback] = ()) -> TrainingTask:
    """What the training loop needs for an image experiment: Adam, `objective`, minibatches of
    the training split (read from disk when it is streamed), the configured learning-rate
    schedule and the validation bound (`held_out_bound`). `select_by` and `callbacks`: what the
    kind adds (see `TrainingTask`)."""
    train_cfg = config.train
    data_kind = data_kind_of(config)
    device = context.device
    optimizer = make_optimizer(model, train_cfg.learning_rate, train_cfg.weight_decay)
    valid = splits.valid if splits.valid is not None and len(splits.valid) > 0 else None

    def validate(model: LatentVariableModel) -> float | None:
        return held_out_bound(model, valid, data_kind, context) if valid is not None else None

    if isinstance(splits.train, StreamedImages):
        batches = streamed_batches(splits.train, data_kind, train_cfg.batch_size, train_cfg.seed, device,
                                   config.data.workers)
    else:
        batches = image_batches(splits.train, data_kind, train_cfg.batch_size, train_cfg.seed, device)
    return TrainingTask(
        model=model, optimizer=optimizer, objective=objective,
        batches=batches,
        learning_rate=lambda epoch, seconds: learning_rate_at(
            train_cfg.lr_schedule, train_cfg.learning_rate, epoch, seconds, train_cfg.epochs,
            train_cfg.time_budget_minutes, train_cfg.final_lr_fraction),
        save_config=config.save, validate=validate, select_by=select_by, callbacks=callbacks)


def configured_objective(config: ExperimentConfig) -> Objective:
    """The config's training objective, with its free-bits floor (a config error naming
    train.free_bits for an objective without a KL term)."""
    train = config.train
    try:
        return make_objective(train.objective, train.samples, train.free_bits, train.kl_balance)
    except ValueError as error:
        raise ConfigError(f"train.{error}") from error


def fit(
    config: ExperimentConfig,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    callbacks: Sequence[Callback] = (),
    more_time: str | None = None,
) -> tuple[LatentVariableModel, LoopState]:
    """Train (or continue training) the configured model in `run_dir`; returns model and state.

    Progress lines go to `log` (default: stdout, flushed, so a killed run still shows them).
    `callbacks` (vaelab.training.callbacks; e.g. TensorBoard summaries) run at the loop's named
    moments. `more_time` says how to train further once the time budget is used up (see
    `run_training`).
    """
    train_cfg = config.train
    context = setup_distributed(train_cfg.device)
    torch.manual_seed(train_cfg.seed)
    splits = load_experiment_splits(config, data_kind_of(config))
    config = record_data(config, splits)
    model = build_model(config, splits.train.image_shape).to(context.device)
    task = image_task(config, model, splits, configured_objective(config), context)
    loop = run_training(task, settings_of(config), Path(run_dir), context, resume=resume,
                        progress=progress, log=log,
                        callbacks=[*group_diagnostics(model, splits, context), *callbacks],
                        more_time=more_time)
    return model, loop


def group_diagnostics(model: LatentVariableModel, splits: Splits, context: Distributed,
                      examples: int = 1000) -> list[Callback]:
    """Active units per latent group each epoch (ActiveUnits) for a model whose latents come in
    groups (a hierarchy), on the first `examples` held-out images binarized from a fixed seed."""
    held_out = splits.valid if splits.valid is not None and len(splits.valid) else splits.test
    if isinstance(held_out, StreamedImages) or not len(held_out):
        return []
    fixed = torch.Generator().manual_seed(SPLIT_SEED)
    x = to_model_space(held_out.images[:examples], held_out.binary, model.data_kind, fixed).to(context.device)
    with torch.no_grad():
        grouped = isinstance(model.encode_mean(x[:2]), tuple)
    return [ActiveUnits(x)] if grouped else []


__all__ = [
    "NonFiniteLossError",
    "RunningMeans",
    "check_finite",
    "fit",
    "held_out_bound",
    "image_task",
    "kl_weight_at",
    "make_optimizer",
    "settings_of",
    "train_step",
]
