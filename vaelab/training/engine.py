"""The one training loop: epochs of batches through an objective, for every kind of model.

What a batch is belongs to the batch source (frames, sequence windows, labelled + unlabelled
pairs, a user's Dataset); what the model is and which bound it climbs belongs to the objective.
The loop knows steps, learning rates, validation, checkpoints, time budgets, early stopping,
devices and ranks — and nothing about the model's kind. A run trained here is resumable to the
exact same numbers: the checkpoint holds weights, optimiser state, RNG state and the counters.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from vaelab.atomic_files import remove_stale_temporaries
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import ObjectiveValue
from vaelab.runs.checkpoint import (
    LoopState,
    load_checkpoint,
    refuse_fewer_epochs,
    save_checkpoint,
    save_weights,
)
from vaelab.runs.distributed import Distributed, restarted_by_launcher
from vaelab.runs.files import BEST_WEIGHTS, CHECKPOINT, CONFIG, METRICS
from vaelab.runs.log import print_now, silent
from vaelab.runs.metrics_log import truncate_metrics
from vaelab.training.config_files import until_budget
from vaelab.training.ddp import wrap_objective
from vaelab.training.fast_path import compiled, precision_advice, with_autocast

#: objective(model, batch, kl_weight) -> ObjectiveValue; a batch is whatever the source yields
Objective = Callable[[Any, Any, float], ObjectiveValue]


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or inf; the message names the step and the offending term.
    `epoch` is the (0-based) epoch it happened in: the epochs finished before it."""

    def __init__(self, message: str, epoch: int = 0) -> None:
        super().__init__(message)
        self.epoch = epoch


class BatchSource(Protocol):
    """Where an epoch's batches come from. Each epoch's order is seeded by the epoch alone, so a
    resumed run sees the batches an uninterrupted one would."""

    def steps_per_epoch(self, context: Distributed) -> int:
        """Optimiser steps in one epoch on every rank."""

    def epoch(self, epoch: int, context: Distributed, whole: bool = False) -> Iterator[tuple[Any, int]]:
        """This rank's (batch, number of examples in it) for each step of `epoch`; with `whole`
        (validation) the ranks' batches together hold every example exactly once."""


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
        "became NaN/inf. Try a lower train.learning_rate, train.grad_clip, or KL warm-up.",
        epoch,
    )


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    objective: Objective,
    batch: Any,
    kl_weight: float = 1.0,
    grad_clip: float = 0.0,
    step: int = 0,
    epoch: int = 0,
) -> ObjectiveValue:
    """One optimiser step on `batch`: objective, finiteness check, backward, clip, Adam."""
    value = objective(model, batch, kl_weight)
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


#: keeps the ranks' noise seeds apart from the shuffle and binarization seeds
RANK_NOISE_OFFSET = 1_000


def epoch_seed(seed: int, epoch: int, offset: int = 0) -> int:
    """The seed of one epoch's shuffle (a source may add an offset of its own)."""
    return (seed * 1_000_003 + epoch * 7919 + offset) % (2**63)


@dataclass(frozen=True)
class LoopSettings:
    """How long and how carefully to train; the same for every kind of model.

    `time_budget_minutes` > 0 stops after the epoch that uses it up (a resumed run gets a new
    allowance); `epochs` at `MAX_EPOCHS` means "until the budget runs out". `patience` > 0
    stops when the validation score has not improved for that many epochs. `compile` and
    `precision` are the speed switches of vaelab.training.fast_path.
    """

    epochs: int
    seed: int = 0
    grad_clip: float = 0.0
    kl_warmup_steps: int = 0
    patience: int = 0
    time_budget_minutes: float = 0.0
    compile: bool = False
    precision: str = "fp32"


@dataclass
class TrainingTask:
    """What to train and how to judge it: everything the loop needs that depends on the model.

    `learning_rate(epoch, seconds)` is the base rate for an epoch; each optimiser group's
    "lr_factor" (default 1) scales it. `validate(model)` returns the validation score (higher is
    better) or None; `score_name` is its record key stem ("bound" → train_bound/valid_bound).
    `extras(model)` adds entries to each epoch's record (e.g. learned physical constants);
    `describe(record)` adds text to the epoch's progress line. `select(record)`, when given and
    not None for the epoch, is the score (higher is better) that picks the best weights and counts
    patience instead of the validation score (e.g. minus a classification error). `save_config(path)`
    writes what a later session needs to rebuild the run. `before_start(model)` runs once for a fresh run,
    before anything is written (e.g. a warm start from another run).
    """

    model: LatentVariableModel | torch.nn.Module
    optimizer: torch.optim.Optimizer
    objective: Objective
    batches: BatchSource
    learning_rate: Callable[[int, float], float]
    save_config: Callable[[Path], None]
    validate: Callable[[Any], float | None] | None = None
    score_name: str = "bound"
    unit: str = "nats"
    extras: Callable[[Any], dict[str, Any] | None] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None
    before_start: Callable[[Any], None] | None = None
    select: Callable[[dict[str, Any]], float | None] | None = None


def _prepare_folder(task: TrainingTask, run_dir: Path, resume: bool, context: Distributed,
                    settings: LoopSettings, say: Callable[[str], None]) -> LoopState:
    """Set the run folder up (fresh) or restore its last checkpoint (resume); the loop state."""
    if context.is_main and run_dir.is_dir():
        for path in remove_stale_temporaries(run_dir):  # left by a write that was killed
            say(f"removed {path.name} from {run_dir}, an unfinished file of an interrupted write")
    if not resume and restarted_by_launcher() and (run_dir / CHECKPOINT).exists():
        say(f"restarted by the launcher: resuming {run_dir} from its last checkpoint")
        resume = True
    if resume and not (run_dir / CHECKPOINT).exists() and (run_dir / CONFIG).exists():
        say(f"{run_dir} was stopped before its first checkpoint; starting it from the beginning")
        resume = False
    if resume:
        refuse_fewer_epochs(run_dir, settings.epochs, f"epochs={settings.epochs}")
        loop = load_checkpoint(run_dir, task.model, task.optimizer)
        loop.out_of_time = False  # a resumed run gets whatever budget its settings now allow
        if settings.patience == 0:  # older sequence runs marked a used-up budget as stopped_early
            loop.stopped_early = False
        if context.is_main:
            truncate_metrics(run_dir / METRICS, loop.epoch)
        say(f"resuming {run_dir} after epoch {loop.epoch} (step {loop.step})")
        return loop
    if (run_dir / CHECKPOINT).exists():
        raise FileExistsError(f"{run_dir} already holds a run; continue it (`--resume {run_dir}`, "
                              "in Python resume=True) or choose another run folder")
    if task.before_start is not None:  # before anything is written: a failure leaves no half-made run
        task.before_start(task.model)
    loop = LoopState()
    context.barrier()  # every rank has looked at the folder before rank 0 writes into it
    if context.is_main:  # a run folder is complete from the start: --epochs 0 evaluates the initial model
        run_dir.mkdir(parents=True, exist_ok=True)
        task.save_config(run_dir / CONFIG)
        (run_dir / METRICS).unlink(missing_ok=True)
        save_checkpoint(run_dir, task.model, task.optimizer, loop)
        save_weights(run_dir / BEST_WEIGHTS, task.model)
    return loop


def _epoch_text(epoch: int, settings: LoopSettings) -> str:
    """"epoch 3/10" for a 0-based epoch; "epoch 3" when the time budget, not epochs, ends the run."""
    return f"epoch {epoch + 1}" + ("" if until_budget(settings.epochs) else f"/{settings.epochs}")


def run_training(
    task: TrainingTask,
    settings: LoopSettings,
    run_dir: Path,
    context: Distributed,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[Any, dict], None] | None = None,
    more_time: str = "resume the run with a larger time budget to continue",
) -> LoopState:
    """Train `task.model` in `run_dir` (or continue it) until the epochs, the time budget or the
    patience run out; returns the loop's counters. The model ends in eval mode.

    `more_time` ends the line that says the time budget is used up: how this caller's user
    trains further (the command line names the flag the user typed).

    `on_epoch(model, record)`, when given, runs on rank 0 after each epoch's record and
    checkpoint are written (e.g. TensorBoard summaries); it must leave the model as it found it.
    Progress lines go to `log` (default: stdout, flushed, so a killed run still shows them).
    A new run that turns NaN before its first epoch ends leaves nothing behind, so the same run
    folder takes the next try; otherwise the error says which epoch the folder keeps.
    """
    run_dir = Path(run_dir)
    fresh = not resume and not (run_dir / CHECKPOINT).exists()
    created = not run_dir.exists()
    try:
        return _train(task, settings, run_dir, context, resume, progress, log, on_epoch, more_time)
    except NonFiniteLossError as error:
        if not (fresh and error.epoch == 0):
            raise NonFiniteLossError(
                f"{error}\n{run_dir} keeps the checkpoint of epoch {error.epoch}, the last before "
                "the NaN; to start again with other settings, delete it or choose another run "
                "folder", error.epoch) from None
        if context.is_main:
            _remove_unfinished_run(run_dir, created)
        raise NonFiniteLossError(f"{error}\nno epoch finished, so nothing was kept in {run_dir}",
                                 error.epoch) from None


def _remove_unfinished_run(run_dir: Path, created: bool) -> None:
    """Remove the files a fresh run wrote before its first epoch ended (and its folder, when the
    run made it and nothing else is in it)."""
    for name in (CONFIG, METRICS, CHECKPOINT, BEST_WEIGHTS):
        (run_dir / name).unlink(missing_ok=True)
    if created and run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def _train(task: TrainingTask, settings: LoopSettings, run_dir: Path, context: Distributed,
           resume: bool, progress: bool, log: Callable[[str], None] | None,
           on_epoch: Callable[[Any, dict], None] | None, more_time: str) -> LoopState:
    """The loop of `run_training`."""
    log = log or print_now
    say = log if context.is_main else silent
    run_dir = Path(run_dir)
    model, optimizer = task.model, task.optimizer
    # before DDP wraps the model: its construction broadcasts rank 0's weights, so every rank
    # starts from what rank 0 loaded or initialised (a warm start included)
    loop = _prepare_folder(task, run_dir, resume, context, settings, say)
    objective = wrap_objective(model, task.objective, context)
    objective = with_autocast(objective, settings.precision, context.device)
    advice = precision_advice(settings.precision, context.device)
    if advice is not None:
        say(f"warning: {advice}")
    if settings.compile:
        objective = compiled(objective)
    context.barrier()  # nobody trains before rank 0 has set the folder up

    if resume and loop.stopped_early:
        say(f"{run_dir} stopped early after epoch {loop.epoch} (no validation improvement for "
            f"{settings.patience} epochs; best epoch {loop.best_epoch}): nothing to do")
    elif resume and loop.epoch >= settings.epochs:
        say(f"{run_dir} has already trained {loop.epoch} of {settings.epochs} epochs: nothing to do "
            f"(pass a larger --epochs to train it further)")
    steps_per_epoch = task.batches.steps_per_epoch(context)
    train_key, valid_key = f"train_{task.score_name}", f"valid_{task.score_name}"
    model.train()
    while loop.epoch < settings.epochs and not (loop.stopped_early or loop.out_of_time):
        epoch = loop.epoch
        started = time.perf_counter()
        if context.enabled:  # each rank its own noise (reparameterised draws), seeded per epoch so
            # that a resumed job draws what an uninterrupted one would
            torch.manual_seed(epoch_seed(settings.seed, loop.step, offset=RANK_NOISE_OFFSET + context.rank))
        learning_rate = task.learning_rate(epoch, loop.seconds)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate * group.get("lr_factor", 1.0)
        running = RunningMeans()
        bar = tqdm(task.batches.epoch(epoch, context), total=steps_per_epoch,
                   desc=_epoch_text(epoch, settings),
                   disable=None if progress and context.is_main else True,  # None: only on a terminal
                   leave=False, unit="batch")
        for i, (batch, size) in enumerate(bar):
            value = train_step(model, optimizer, objective, batch,
                               kl_weight_at(loop.step, settings.kl_warmup_steps),
                               settings.grad_clip, loop.step, epoch)
            loop.step += 1
            running.add(value, size)
            if progress and context.is_main and i % 10 == 0:
                bar.set_postfix(loss=f"{value.loss.item():.2f}")
        bar.close()

        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": loop.step,
            **{f"train_{k}": v for k, v in running.means(context).items()},
            "kl_weight": kl_weight_at(loop.step - 1, settings.kl_warmup_steps),
            "learning_rate": learning_rate,
        }
        if task.extras is not None:
            record.update(task.extras(model) or {})
        valid = task.validate(model) if task.validate is not None else None
        # would never be "best": stop and say so, on every rank together (a rank's own noise may
        # make it the only one with a NaN)
        if context.any(valid is not None and not math.isfinite(valid)):
            raise NonFiniteLossError(
                f"the validation {task.score_name} is {valid} after epoch {epoch + 1}: the "
                "validation data or the model gives non-finite values (NaN in the data, or a "
                "likelihood that cannot score it)", epoch)
        record[valid_key] = valid
        selected = task.select(record) if task.select is not None else None
        score = selected if selected is not None else valid if valid is not None else record[train_key]
        if score > loop.best_valid:
            loop.best_valid, loop.best_epoch = score, epoch + 1
            loop.epochs_without_improvement = 0
            if context.is_main:
                save_weights(run_dir / BEST_WEIGHTS, model)
        else:
            loop.epochs_without_improvement += 1
        # on every rank or none: a validation score that is not reduced over ranks may differ
        loop.stopped_early = context.any(bool(settings.patience)
                                         and loop.epochs_without_improvement >= settings.patience)
        loop.epoch += 1
        # the slowest rank's clock on every rank: a time-paced learning rate stays the same on all
        loop.seconds += context.max(time.perf_counter() - started)
        budget = settings.time_budget_minutes * 60.0
        loop.out_of_time = context.any(budget > 0 and loop.seconds >= budget
                                       and loop.epoch < settings.epochs)
        record["seconds"] = loop.seconds
        if context.is_main:
            with open(run_dir / METRICS, "a") as handle:
                handle.write(json.dumps(record) + "\n")
            save_checkpoint(run_dir, model, optimizer, loop)
            if on_epoch is not None:
                on_epoch(model, record)
        context.barrier()
        valid_text = f"  valid {task.score_name.replace('_', ' ')} {valid:.2f}" if valid is not None else ""
        extra_text = task.describe(record) if task.describe is not None else ""
        say(f"{_epoch_text(epoch, settings)}  train {task.score_name.replace('_', ' ')} "
            f"{record[train_key]:.2f}{valid_text} {task.unit}{extra_text}  ({loop.seconds:.0f} s)")
        if loop.out_of_time:
            say(f"time budget of {settings.time_budget_minutes:g} min used up after epoch "
                f"{loop.epoch}; {more_time}")
        if loop.stopped_early:
            say(f"early stopping: no validation improvement for {settings.patience} epochs; "
                f"best epoch {loop.best_epoch}")
    model.eval()
    return loop


__all__ = [
    "BatchSource",
    "LoopSettings",
    "NonFiniteLossError",
    "Objective",
    "RunningMeans",
    "TrainingTask",
    "check_finite",
    "epoch_seed",
    "kl_weight_at",
    "make_optimizer",
    "run_training",
    "train_step",
]
