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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from vaelab.atomic_files import remove_stale_temporaries
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import ObjectiveValue
from vaelab.runs.checkpoint import (
    CheckpointError,
    LoopState,
    checkpoint_average,
    load_checkpoint,
    refuse_fewer_epochs,
    save_checkpoint,
    save_weights,
)
from vaelab.runs.distributed import Distributed, restarted_by_launcher
from vaelab.runs.files import BEST_WEIGHTS, CHECKPOINT, CONFIG, METRICS
from vaelab.runs.log import print_now, silent
from vaelab.runs.metrics_log import truncate_metrics
from vaelab.training import rewind
from vaelab.training.averaging import WeightAverage
from vaelab.training.callbacks import Callback, EpochLog, ProgressBar, as_callback
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


def make_optimizer(model: torch.nn.Module, learning_rate: float,
                   weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam (AdamW's decoupled decay when `weight_decay` > 0) with the fused kernel (one pass over
    all parameters; same update rule) when this torch build has it for the model's device; the
    default implementation otherwise."""
    adam = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    options: dict[str, Any] = {"lr": learning_rate}
    if weight_decay > 0:
        options["weight_decay"] = weight_decay
    try:
        return adam(model.parameters(), fused=True, **options)
    except (RuntimeError, ValueError, TypeError):
        return adam(model.parameters(), **options)


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
    grad_skip: float = 0.0,
) -> ObjectiveValue:
    """One optimiser step on `batch`: objective, finiteness check, backward, clip, Adam.
    With `grad_skip` > 0 a step whose gradient norm (before clipping) exceeds it, or is not
    finite, is skipped (VDVAE's guard against the rare huge gradient of a deep hierarchy); the
    share of skipped steps is the `skipped_update` term (and `huge_gradient`, the same steps).
    A non-finite loss is then skipped too (its gradient is NaN on every process, so all skip
    together) rather than stopping the run. A long streak of them is the loop's to handle
    (`vaelab.training.rewind`)."""
    value = objective(model, batch, kl_weight)
    if grad_skip <= 0:
        check_finite(value, step, epoch)
    optimizer.zero_grad(set_to_none=True)
    value.loss.backward()
    if grad_clip > 0 or grad_skip > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
        if grad_skip > 0:
            huge = not bool(torch.isfinite(norm) & (norm <= grad_skip))  # NaN, inf: huge too
            value.terms["skipped_update"] = torch.tensor(float(huge), device=norm.device)
            value.terms["huge_gradient"] = torch.tensor(float(huge), device=norm.device)
            if huge:
                optimizer.zero_grad(set_to_none=True)
                return value
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
    grad_skip: float = 0.0
    kl_warmup_steps: int = 0
    patience: int = 0
    time_budget_minutes: float = 0.0
    compile: bool = False
    precision: str = "fp32"
    #: > 0: keep an exponential moving average of the weights at this decay (vaelab.training.averaging)
    ema_decay: float = 0.0


@dataclass
class TrainingTask:
    """What to train and how to judge it: everything the loop needs that depends on the model.

    `learning_rate(epoch, seconds)` is the base rate for an epoch; each optimiser group's
    "lr_factor" (default 1) scales it. `validate(model)` returns the validation score (higher is
    better) or None; `score_name` is its record key stem ("bound" → train_bound/valid_bound).
    `select_by`, when given, names a record entry (lower is better, e.g. "valid_error", which a
    callback adds) that picks the best weights and counts patience instead of the validation
    score in the epochs whose record holds it. `save_config(path)` writes what a later session
    needs to rebuild the run. `callbacks` are what this kind of model adds to the loop (entries
    of its own in each record, a warm start; see vaelab.training.callbacks).
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
    select_by: str | None = None
    callbacks: Sequence[Callback] = ()


@dataclass
class Loop:
    """A training loop under way, as its steps and its callbacks see it: the task and settings,
    the run folder, the processes (`context`), the counters (`state`), whether it continues a
    run (`resuming`), and `say` for a progress line (silent on ranks other than 0)."""

    task: TrainingTask
    settings: LoopSettings
    run_dir: Path
    context: Distributed
    say: Callable[[str], None]
    callbacks: list[Callback]
    state: LoopState = field(default_factory=LoopState)
    resuming: bool = False
    #: the weight average when the settings ask for one (`ema_decay`), from the run's start on
    average: WeightAverage | None = None
    #: the weights a streak of huge gradients is set back to (`grad_skip` > 0): the start of the
    #: epoch, or of an earlier one when the streak began there
    epoch_start: rewind.EpochStart | None = None

    @property
    def model(self) -> LatentVariableModel | torch.nn.Module:
        """The model the optimiser steps."""
        return self.task.model

    @property
    def kept_model(self) -> LatentVariableModel | torch.nn.Module:
        """The weights validation judges and the run keeps: the weight average when there is one,
        else the model the optimiser steps."""
        return self.model if self.average is None else self.average.module

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0, the one that writes the run folder and prints."""
        return self.context.is_main

    def notify(self, hook: str, *args: Any) -> None:
        """Call `hook` (e.g. "on_epoch_end") of every callback, in order."""
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)


#: how a run whose time budget ran out trains further, when the caller does not say
MORE_TIME = "resume the run with a larger time budget to continue"


def run_training(
    task: TrainingTask,
    settings: LoopSettings,
    run_dir: Path,
    context: Distributed,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    callbacks: Sequence[Callback | Callable[[Any, dict[str, Any]], None]] = (),
    more_time: str | None = None,
) -> LoopState:
    """Train `task.model` in `run_dir` (or continue it) until the epochs, the time budget or the
    patience run out; returns the loop's counters. The model ends in eval mode.

    `callbacks` (vaelab.training.callbacks; a plain function of (model, record) runs after each
    epoch's checkpoint) run after the task's own, at the loop's named moments;
    `progress` adds a progress bar over each epoch's batches (on a terminal). Each epoch's line
    goes to `log` (default: stdout, flushed, so a killed run still shows them); `more_time` ends
    the line that says the time budget is used up: how this caller's user trains further (the
    command line names the flag the user typed; None: MORE_TIME). A new run that turns NaN before its first
    epoch ends leaves nothing behind, so the same run folder takes the next try; otherwise the
    error says which epoch the folder keeps.
    """
    loop = Loop(task, settings, Path(run_dir), context,
                say=(log or print_now) if context.is_main else silent,
                callbacks=[*([ProgressBar()] if progress else []), EpochLog(more_time or MORE_TIME),
                           *task.callbacks, *map(as_callback, callbacks)])
    with _nan_explained(loop, resume):
        try:
            loop.resuming = _resumes(loop, resume)
            loop.notify("on_train_start")
            loop.state = _restored_run(loop) if loop.resuming else _fresh_run(loop)
            objective = _step_objective(loop)  # after the above: DDP starts from rank 0's weights
            loop.average = _weight_average(loop)  # after DDP's broadcast: the same on every rank
            context.barrier()  # nobody trains before rank 0 has set the folder up
            _say_if_nothing_to_do(loop)
            loop.model.train()
            while _continues(loop):
                started = time.perf_counter()
                learning_rate = _start_epoch(loop)
                loop.notify("on_epoch_start")
                running, guard_counts = _train_one_epoch(loop, objective)
                record = _epoch_record(loop, running, learning_rate)
                record.update(guard_counts)
                loop.notify("on_epoch_end", record)
                valid = _validate(loop, record)
                _keep_the_best(loop, record, valid)
                _count_and_check_stops(loop, started)
                _save_epoch(loop, record)
                loop.notify("on_checkpoint", record)
                context.barrier()
            if loop.average is not None:  # the run's model is the average; the checkpoint keeps both
                loop.average.copy_into(loop.model)
            loop.model.eval()
        finally:
            loop.notify("on_train_end")
    return loop.state


@contextmanager
def _nan_explained(loop: Loop, resume: bool) -> Iterator[None]:
    """A NaN's error says which epoch the run folder keeps; a new run that turns NaN before its
    first epoch ends is removed (the files it wrote, and its folder when the run made it)."""
    run_dir = loop.run_dir
    fresh = not resume and not (run_dir / CHECKPOINT).exists()
    created = not run_dir.exists()
    try:
        yield
    except NonFiniteLossError as error:
        if not (fresh and error.epoch == 0):
            raise NonFiniteLossError(
                f"{error}\n{run_dir} keeps the checkpoint of epoch {error.epoch}, the last before "
                "the NaN; to start again with other settings, delete it or choose another run "
                "folder", error.epoch) from None
        if loop.is_main:
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


def _resumes(loop: Loop, resume: bool) -> bool:
    """Whether this call continues the run in the folder: as asked, except that a fresh command
    the launcher restarted continues, and a run stopped before its first checkpoint starts
    again. Files of an interrupted write are removed first; a fresh start in a folder that
    holds a run is refused."""
    run_dir, say = loop.run_dir, loop.say
    if loop.is_main and run_dir.is_dir():
        for path in remove_stale_temporaries(run_dir):  # left by a write that was killed
            say(f"removed {path.name} from {run_dir}, an unfinished file of an interrupted write")
    has_checkpoint = (run_dir / CHECKPOINT).exists()
    if not resume and restarted_by_launcher() and has_checkpoint:
        say(f"restarted by the launcher: resuming {run_dir} from its last checkpoint")
        return True
    if resume and not has_checkpoint and (run_dir / CONFIG).exists():
        say(f"{run_dir} was stopped before its first checkpoint; starting it from the beginning")
        return False
    if not resume and has_checkpoint:
        raise FileExistsError(f"{run_dir} already holds a run; continue it (`--resume {run_dir}`, "
                              "in Python resume=True) or choose another run folder")
    return resume


def _restored_run(loop: Loop) -> LoopState:
    """The counters of the folder's last checkpoint, whose weights and optimiser state are loaded;
    metric lines written after that checkpoint are dropped (their epochs are trained again)."""
    settings, run_dir = loop.settings, loop.run_dir
    refuse_fewer_epochs(run_dir, settings.epochs, f"epochs={settings.epochs}")
    state = load_checkpoint(run_dir, loop.task.model, loop.task.optimizer)
    state.out_of_time = False  # a resumed run gets whatever budget its settings now allow
    if settings.patience == 0:  # older sequence runs marked a used-up budget as stopped_early
        state.stopped_early = False
    if loop.is_main:
        truncate_metrics(run_dir / METRICS, state.epoch)
    loop.say(f"resuming {run_dir} after epoch {state.epoch} (step {state.step})")
    return state


def _fresh_run(loop: Loop) -> LoopState:
    """New counters, and a run folder complete from the start (config, checkpoint and best weights
    of the initial model): --epochs 0 evaluates the initial model."""
    task, run_dir = loop.task, loop.run_dir
    state = LoopState()
    loop.context.barrier()  # every rank has looked at the folder before rank 0 writes into it
    if loop.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        task.save_config(run_dir / CONFIG)
        (run_dir / METRICS).unlink(missing_ok=True)
        save_checkpoint(run_dir, task.model, task.optimizer, state)
        save_weights(run_dir / BEST_WEIGHTS, task.model)
    return state


def _weight_average(loop: Loop) -> WeightAverage | None:
    """The weight average the settings ask for: started at the model's weights (fresh), or the
    one the checkpoint kept (resumed; a checkpoint without one starts it at the resumed weights)."""
    decay = loop.settings.ema_decay
    if decay <= 0:
        return None
    average = WeightAverage(loop.model, decay)
    kept = checkpoint_average(loop.run_dir) if loop.resuming else None
    if kept is not None:
        try:
            average.load_state_dict(kept)
        except (RuntimeError, KeyError) as error:
            raise CheckpointError(f"the weight average in {loop.run_dir / CHECKPOINT} does not fit this "
                                  f"{type(loop.model).__name__} ({error})") from error
    elif loop.resuming and loop.state.step > 0:  # the checkpoint of step 0 holds none: nothing lost
        loop.say(f"{loop.run_dir}'s checkpoint holds no weight average: it starts at the resumed weights")
    return average


def _step_objective(loop: Loop) -> Objective:
    """The task's objective as each step calls it: averaged over ranks by DDP (whose construction
    broadcasts rank 0's weights), under the precision's autocast, compiled when asked."""
    context, settings = loop.context, loop.settings
    objective = wrap_objective(loop.model, loop.task.objective, context)
    objective = with_autocast(objective, settings.precision, context.device)
    advice = precision_advice(settings.precision, context.device)
    if advice is not None:
        loop.say(f"warning: {advice}")
    return compiled(objective) if settings.compile else objective


def _say_if_nothing_to_do(loop: Loop) -> None:
    """A resumed run that has already stopped, or trained its epochs, says so."""
    state, settings = loop.state, loop.settings
    if loop.resuming and state.stopped_early:
        loop.say(f"{loop.run_dir} stopped early after epoch {state.epoch} (no validation improvement "
                 f"for {settings.patience} epochs; best epoch {state.best_epoch}): nothing to do")
    elif loop.resuming and state.epoch >= settings.epochs:
        loop.say(f"{loop.run_dir} has already trained {state.epoch} of {settings.epochs} epochs: "
                 "nothing to do (pass a larger --epochs to train it further)")


def _continues(loop: Loop) -> bool:
    """Whether another epoch trains: epochs left, not stopped early, time left."""
    state = loop.state
    return state.epoch < loop.settings.epochs and not (state.stopped_early or state.out_of_time)


def _start_epoch(loop: Loop) -> float:
    """Seed this rank's noise (several processes) and set the epoch's learning rate; the rate."""
    state, context = loop.state, loop.context
    if context.enabled:  # each rank its own noise (reparameterised draws), seeded per epoch so
        # that a resumed job draws what an uninterrupted one would
        torch.manual_seed(epoch_seed(loop.settings.seed, state.step, offset=RANK_NOISE_OFFSET + context.rank))
    learning_rate = loop.task.learning_rate(state.epoch, state.seconds)
    for group in loop.task.optimizer.param_groups:
        group["lr"] = learning_rate * group.get("lr_factor", 1.0)
    return learning_rate


def _train_one_epoch(loop: Loop, objective: Objective) -> tuple[RunningMeans, dict[str, int]]:
    """One optimiser step per batch of the epoch; the means of the objective's numbers and, for a
    guarded run (`grad_skip` > 0), the times the epoch was set back (`vaelab.training.rewind`) and
    its steps with a non-finite loss over every rank (`rewinds`, `nonfinite_steps`)."""
    task, settings, state = loop.task, loop.settings, loop.state
    running = RunningMeans()
    nonfinite = 0
    start = None
    if settings.grad_skip > 0:  # a streak running on from the epoch before keeps its start
        if state.skip_streak == 0 or loop.epoch_start is None:
            loop.epoch_start = rewind.EpochStart(task.model, task.optimizer, loop.average)
        start = loop.epoch_start
        start.rewinds = 0
    for batch, size in task.batches.epoch(state.epoch, loop.context):
        value = train_step(task.model, task.optimizer, objective, batch,
                           kl_weight_at(state.step, settings.kl_warmup_steps),
                           settings.grad_clip, state.step, state.epoch, settings.grad_skip)
        huge = "huge_gradient" in value.terms and bool(value.terms["huge_gradient"])
        finite = not huge or bool(torch.isfinite(value.loss))
        state.skip_streak = state.skip_streak + 1 if huge else 0
        if start is not None and state.skip_streak >= rewind.MAX_SKIPS_IN_A_ROW:
            _rewind(loop, start)
        state.step += 1
        if loop.average is not None:
            loop.average.update(task.model)
        if finite:  # a skipped non-finite loss is counted, not averaged into the epoch's means
            running.add(value, size)
        else:
            nonfinite += 1
        loop.notify("on_batch_end", value)
    if start is None:  # unguarded: a non-finite loss has already stopped the run
        return running, {}
    # over every rank in one collective: the non-finite steps, and the ranks left with none finite
    totals = loop.context.sum(torch.tensor([float(nonfinite), float(running.count == 0)],
                                           device=loop.context.device))
    if totals[1] > 0:
        raise NonFiniteLossError(f"every step of epoch {state.epoch + 1} had a non-finite loss: the model "
                                 "or the data gives NaN/inf; try a lower learning rate", state.epoch)
    return running, {"rewinds": start.rewinds, "nonfinite_steps": int(totals[0])}


def _rewind(loop: Loop, start: rewind.EpochStart) -> None:
    """Set the weights back to the epoch's start after a streak of huge gradients, or stop the run
    when that has not helped `MAX_REWINDS_PER_EPOCH` times."""
    state, guard = loop.state, loop.settings.grad_skip
    streak = f"{state.skip_streak} steps in a row had a gradient norm over --grad-skip {guard:g}"
    if start.rewinds >= rewind.MAX_REWINDS_PER_EPOCH:
        again = ("start it again with a lower learning rate (--lr)" if state.epoch == 0 and not loop.resuming
                 else "continue it from its last checkpoint with a lower learning rate "
                      "(`vaelab train --resume RUN --lr ...`)")
        raise NonFiniteLossError(
            f"training diverged in epoch {state.epoch + 1}: {streak} even after setting the weights "
            f"back {start.rewinds} times. If the guard is below the typical gradient norm, raise "
            f"--grad-skip (and --grad-clip); else {again}", state.epoch)
    start.rewind()
    state.skip_streak = 0
    loop.say(f"warning: {streak}: the weights, optimiser state and average are set back to where "
             f"the streak's epoch started (rewind {start.rewinds} of at most "
             f"{rewind.MAX_REWINDS_PER_EPOCH} in epoch {state.epoch + 1}), and training goes on "
             "with the epoch's next batches")


def _epoch_record(loop: Loop, running: RunningMeans, learning_rate: float) -> dict[str, Any]:
    """The epoch's line of metrics.jsonl as training left it (over every rank's examples)."""
    state = loop.state
    return {
        "epoch": state.epoch + 1,
        "step": state.step,
        **{f"train_{k}": v for k, v in running.means(loop.context).items()},
        "kl_weight": kl_weight_at(state.step - 1, loop.settings.kl_warmup_steps),
        "learning_rate": learning_rate,
    }


def _validate(loop: Loop, record: dict[str, Any]) -> float | None:
    """The task's validation score, recorded; a non-finite one stops the run."""
    task = loop.task
    valid = task.validate(loop.kept_model) if task.validate is not None else None
    # would never be "best": stop and say so, on every rank together (a rank's own noise may
    # make it the only one with a NaN)
    if loop.context.any(valid is not None and not math.isfinite(valid)):
        raise NonFiniteLossError(
            f"the validation {task.score_name} is {valid} after epoch {loop.state.epoch + 1}: the "
            "validation data or the model gives non-finite values (NaN in the data, or a "
            "likelihood that cannot score it)", loop.state.epoch)
    record[f"valid_{task.score_name}"] = valid
    return valid


def _keep_the_best(loop: Loop, record: dict[str, Any], valid: float | None) -> None:
    """Keep the epoch's weights as the best when its score beats every earlier epoch's (the first
    of equals stays), else count an epoch without improvement. The score: minus the task's
    `select_by` entry when the record has it, else the validation score, else the training one."""
    task, state = loop.task, loop.state
    selected = record.get(task.select_by) if task.select_by is not None else None
    if selected is not None:
        score = -selected
    else:
        score = valid if valid is not None else record[f"train_{task.score_name}"]
    if score > state.best_valid:
        state.best_valid, state.best_epoch = score, state.epoch + 1
        state.epochs_without_improvement = 0
        if loop.is_main:
            save_weights(loop.run_dir / BEST_WEIGHTS, loop.kept_model)
    else:
        state.epochs_without_improvement += 1


def _count_and_check_stops(loop: Loop, started: float) -> None:
    """Count the epoch and its time; whether patience or the time budget stops the run."""
    state, settings, context = loop.state, loop.settings, loop.context
    # on every rank or none: a validation score that is not reduced over ranks may differ
    state.stopped_early = context.any(bool(settings.patience)
                                      and state.epochs_without_improvement >= settings.patience)
    state.epoch += 1
    # the slowest rank's clock on every rank: a time-paced learning rate stays the same on all
    state.seconds += context.max(time.perf_counter() - started)
    budget = settings.time_budget_minutes * 60.0
    state.out_of_time = context.any(budget > 0 and state.seconds >= budget
                                    and state.epoch < settings.epochs)


def _save_epoch(loop: Loop, record: dict[str, Any]) -> None:
    """Append the epoch's record (with the time trained) to metrics.jsonl and save the checkpoint."""
    record["seconds"] = loop.state.seconds
    if loop.is_main:
        with open(loop.run_dir / METRICS, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        save_checkpoint(loop.run_dir, loop.model, loop.task.optimizer, loop.state,
                        None if loop.average is None else loop.average.state_dict())


__all__ = [
    "BatchSource",
    "Loop",
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
