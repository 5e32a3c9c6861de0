"""The training loop: plain, visible, and resumable to the exact same numbers.

One epoch = a seeded shuffle, minibatches through the objective, Adam steps; then a validation
bound, one JSON line of metrics, a checkpoint, and the early-stopping check. The loop receives
a model and an objective function; it knows nothing about what kind of model it trains.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from vaelab.data.representation import to_model_space
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.elbo import elbo
from vaelab.objectives.registry import make_objective
from vaelab.objectives.result import ObjectiveValue
from vaelab.training.checkpoint import (
    BEST_WEIGHTS,
    CHECKPOINT,
    CONFIG,
    LoopState,
    load_checkpoint,
    save_checkpoint,
    save_weights,
)
from vaelab.training.config import ExperimentConfig, learning_rate_at
from vaelab.training.distributed import Distributed, restarted_by_launcher, wrap_objective
from vaelab.training.distributed import setup as setup_distributed
from vaelab.training.experiment import (
    SPLIT_SEED,
    build_model,
    data_kind_of,
    load_experiment_splits,
    make_training_objective,
)
from vaelab.training.fast_path import compiled, precision_advice, with_autocast

METRICS = "metrics.jsonl"


def print_now(message: str) -> None:
    """Print a progress line immediately, even when stdout is a pipe or a file."""
    print(message, flush=True)


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or inf; the message names the step and the offending term."""


def make_optimizer(model: torch.nn.Module, learning_rate: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one pass over all parameters; same update rule) when this
    torch build has it for the model's device; the default implementation otherwise."""
    try:
        return torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=learning_rate)


def kl_weight_at(step: int, warmup_steps: int) -> float:
    """Linear KL warm-up from ~0 to 1 over `warmup_steps` optimiser steps (1 when off)."""
    return 1.0 if warmup_steps <= 0 else min(1.0, (step + 1) / warmup_steps)


def check_finite(value: ObjectiveValue, step: int, epoch: int) -> None:
    """Raise NonFiniteLossError naming the first non-finite term of the loss."""
    loss = value.loss.item()
    if math.isfinite(loss):
        return
    bad = [name for name, term in value.terms.items() if not torch.isfinite(term).all()]
    culprit = f"term(s) {', '.join(bad)}" if bad else "the loss"
    raise NonFiniteLossError(
        f"non-finite loss ({loss}) at step {step} (epoch {epoch + 1}): {culprit} "
        "became NaN/inf. Try a lower train.learning_rate, train.grad_clip, or KL warm-up."
    )


def train_step(
    model: LatentVariableModel,
    optimizer: torch.optim.Optimizer,
    objective: Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue],
    x: torch.Tensor,
    kl_weight: float = 1.0,
    grad_clip: float = 0.0,
    step: int = 0,
    epoch: int = 0,
) -> ObjectiveValue:
    """One optimiser step on batch `x`: objective, finiteness check, backward, clip, Adam."""
    value = objective(model, x, kl_weight)
    check_finite(value, step, epoch)
    optimizer.zero_grad(set_to_none=True)
    value.loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return value


class RunningMeans:
    """Example-weighted means of an objective's loss, bound and terms over an epoch.

    Kept as one device tensor, so the loop reads numbers back once an epoch, not every step.
    """

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.total: torch.Tensor | None = None
        self.count = 0

    @torch.no_grad()
    def add(self, value: ObjectiveValue, batch_size: int) -> None:
        batch = torch.stack([value.loss.detach(), value.bound.mean(), *value.terms.values()])
        if self.total is None:
            self.names = ("loss", "bound", *value.terms)
            self.total = torch.zeros_like(batch)
        self.total.add_(batch, alpha=batch_size)
        self.count += batch_size

    def means(self, context: Distributed | None = None) -> dict[str, float]:
        """The means, over every rank's examples when `context` spans several processes."""
        if self.total is None:
            return {}
        total = torch.cat([self.total, self.total.new_tensor([float(self.count)])])
        if context is not None:
            total = context.sum(total)
        *sums, count = total.tolist()
        return {name: v / count for name, v in zip(self.names, sums, strict=True)}


@torch.no_grad()
def validation_bound(model: LatentVariableModel, x: torch.Tensor,
                     context: Distributed | None = None, batch_size: int = 1000) -> float:
    """Mean single-sample ELBO over a fixed validation tensor (nats per example); with a
    distributed `context`, each rank holds a shard and the mean is over all of them."""
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        bound = elbo(model, x[start:start + batch_size]).bound
        total += torch.stack([bound.double().sum(), bound.new_tensor(bound.numel()).double()])
    model.train()
    if context is not None:
        total = context.sum(total)
    return (total[0] / total[1]).item()


def _silent(message: str) -> None:
    """Ranks other than 0 say nothing."""


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


def _truncate_metrics(path: Path, epochs_done: int) -> None:
    """Drop metric lines for epochs a resumed run will redo (written after the last checkpoint)."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln)["epoch"] <= epochs_done]
    path.write_text("".join(ln + "\n" for ln in kept))


def fit(
    config: ExperimentConfig,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[LatentVariableModel, dict], None] | None = None,
) -> tuple[LatentVariableModel, LoopState]:
    """Train (or continue training) the configured model in `run_dir`; returns model and state.

    Progress lines go to `log` (default: stdout, flushed, so a killed run still shows them).
    `on_epoch(model, record)`, when given, runs after each epoch's record and checkpoint are
    written (e.g. TensorBoard summaries); it must leave the model as it found it.
    """
    log = log or print_now
    run_dir = Path(run_dir)
    train_cfg = config.train
    context = setup_distributed(train_cfg.device)
    say = log if context.is_main else _silent
    device = context.device
    torch.manual_seed(train_cfg.seed)
    data_kind = data_kind_of(config)
    splits = load_experiment_splits(config, data_kind)
    model = build_model(config, splits.train.image_shape).to(device)
    optimizer = make_optimizer(model, train_cfg.learning_rate)
    objective = wrap_objective(
        model, make_training_objective(config, model, splits, run_dir, device, make_objective),
        context)
    objective = with_autocast(objective, train_cfg.precision, device)
    advice = precision_advice(train_cfg.precision, device)
    if advice is not None:
        say(f"warning: {advice}")
    if train_cfg.compile:
        objective = compiled(objective)

    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    if not resume and restarted_by_launcher() and (run_dir / CHECKPOINT).exists():
        say(f"restarted by the launcher: resuming {run_dir} from its last checkpoint")
        resume = True
    if resume and not (run_dir / CHECKPOINT).exists() and (run_dir / CONFIG).exists():
        say(f"{run_dir} was stopped before its first checkpoint; starting it from the beginning")
        resume = False
    if resume:
        loop = load_checkpoint(run_dir, model, optimizer)
        loop.out_of_time = False  # a resumed run gets whatever budget its config now allows
        if context.is_main:
            _truncate_metrics(run_dir / METRICS, loop.epoch)
        say(f"resuming {run_dir} after epoch {loop.epoch} (step {loop.step})")
    else:
        if (run_dir / CHECKPOINT).exists():
            raise FileExistsError(f"{run_dir} already holds a run; use --resume {run_dir} to "
                                  "continue it or choose another --run-dir")
        loop = LoopState()
        if context.is_main:  # a run folder is complete from the start: --epochs 0 evaluates the initial model
            config.save(run_dir / CONFIG)
            (run_dir / METRICS).unlink(missing_ok=True)
            save_checkpoint(run_dir, model, optimizer, loop)
            save_weights(run_dir / BEST_WEIGHTS, model)
    context.barrier()  # nobody trains before rank 0 has set the folder up

    images = splits.train.images.to(device)
    binary = splits.train.binary
    valid_x = None
    if splits.valid is not None and len(splits.valid) > 0:
        fixed = torch.Generator(device=device).manual_seed(SPLIT_SEED)
        valid_x = to_model_space(splits.valid.images.to(device), splits.valid.binary, data_kind,
                                 fixed)
        valid_x = valid_x[context.rank::context.world_size]

    # each step takes one global batch of batch_size x world_size examples; rank r trains on
    # its r-th slice, and DDP averages the gradients: the same update as one process with the
    # global batch. Across ranks the last, incomplete global batch is dropped.
    n, batch_size = images.shape[0], train_cfg.batch_size
    global_batch = batch_size * context.world_size
    steps_per_epoch = math.ceil(n / global_batch) if not context.enabled else n // global_batch
    if steps_per_epoch == 0:
        raise ValueError(f"{n} training examples are fewer than one global batch of {global_batch}")
    model.train()
    while loop.epoch < train_cfg.epochs and not (loop.stopped_early or loop.out_of_time):
        epoch = loop.epoch
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(train_cfg.lr_schedule, train_cfg.learning_rate, epoch)
        shuffle = torch.Generator().manual_seed(_epoch_seed(train_cfg.seed, epoch))
        pixels = torch.Generator(device=device).manual_seed(
            _epoch_seed(train_cfg.seed, epoch) + 1 + context.rank)
        order = torch.randperm(n, generator=shuffle).to(device)
        running = RunningMeans()
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{train_cfg.epochs}",
                   disable=not (progress and context.is_main), leave=False, unit="batch")
        for i in bar:
            start = i * global_batch + context.rank * batch_size
            x = to_model_space(images[order[start:min(start + batch_size, (i + 1) * global_batch)]],
                               binary, data_kind, pixels)
            value = train_step(model, optimizer, objective, x,
                               kl_weight_at(loop.step, train_cfg.kl_warmup_steps),
                               train_cfg.grad_clip, loop.step, epoch)
            loop.step += 1
            running.add(value, x.shape[0])
            if progress and context.is_main and i % 10 == 0:
                bar.set_postfix(loss=f"{value.loss.item():.2f}")
        bar.close()

        record: dict[str, float | int | bool | None] = {
            "epoch": epoch + 1,
            "step": loop.step,
            **{f"train_{k}": v for k, v in running.means(context).items()},
            "kl_weight": kl_weight_at(loop.step - 1, train_cfg.kl_warmup_steps),
            "learning_rate": optimizer.param_groups[0]["lr"],
        }
        valid = validation_bound(model, valid_x, context) if valid_x is not None else None
        record["valid_bound"] = valid
        score = valid if valid is not None else record["train_bound"]
        assert isinstance(score, float)
        improved = score > loop.best_valid
        if improved:
            loop.best_valid, loop.best_epoch = score, epoch + 1
            loop.epochs_without_improvement = 0
            if context.is_main:
                save_weights(run_dir / BEST_WEIGHTS, model)
        else:
            loop.epochs_without_improvement += 1
        if train_cfg.patience and loop.epochs_without_improvement >= train_cfg.patience:
            loop.stopped_early = True
        loop.epoch += 1
        loop.seconds += time.perf_counter() - started
        budget = train_cfg.time_budget_minutes * 60.0
        loop.out_of_time = context.any(budget > 0 and loop.seconds >= budget
                                       and loop.epoch < train_cfg.epochs)
        record["seconds"] = loop.seconds
        if context.is_main:
            with open(run_dir / METRICS, "a") as handle:
                handle.write(json.dumps(record) + "\n")
            save_checkpoint(run_dir, model, optimizer, loop)
            if on_epoch is not None:
                on_epoch(model, record)
        context.barrier()
        valid_text = f"  valid bound {valid:.2f}" if valid is not None else ""
        say(f"epoch {epoch + 1}/{train_cfg.epochs}  train bound {record['train_bound']:.2f}"
            f"{valid_text} nats  ({loop.seconds:.0f} s)")
        if loop.out_of_time:
            say(f"time budget of {train_cfg.time_budget_minutes:g} min used up after epoch "
                f"{loop.epoch}; `vaelab train --resume` with more --time-budget continues")
        if loop.stopped_early:
            say(f"early stopping: no validation improvement for {train_cfg.patience} epochs; "
                f"best epoch {loop.best_epoch}")
    model.eval()
    return model, loop


def read_metrics(run_dir: Path) -> list[dict]:
    """The per-epoch records of a run, in order."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
