"""Callbacks: what the training loop calls at its named moments, and the ones every run has.

The loop (vaelab.training.engine.run_training) calls each callback's hooks in list order, on
every rank (a hook that writes files or prints checks `loop.is_main`):

    on_train_start(loop)           once, before the run folder is set up or read; a fresh run's
                                   model may still be changed here (a warm start);
                                   `loop.resuming` says whether a checkpoint will replace it
    per epoch:
      on_epoch_start(loop)         the learning rate is set; `loop.state.epoch` epochs are done
      on_batch_end(loop, value)    after each optimiser step, with its ObjectiveValue
      on_epoch_end(loop, record)   the epoch's steps are done and `record` holds their means;
                                   add entries here (validation and the choice of the best
                                   weights follow, so `TrainingTask.select_by` may name them)
      on_checkpoint(loop, record)  the record is in metrics.jsonl and the checkpoint is saved
                                   (rank 0): log it, plot it, print it
    on_train_end(loop)             once, when the loop stops, also when it stops with an error
    describe(record) -> str        what this callback adds to the epoch's progress line

Hooks must leave the model as they found it (mode and weights) and draw no numbers from the
global random generators (seed a `torch.Generator` of their own): a run with a callback trains
to the same numbers as one without, and resumes to them exactly.

Progress bars, the epoch's progress line, TensorBoard (vaelab.reports.tensorboard), the learned
physical constants of a pendulum model and the classification error of a semi-supervised one are
callbacks; so are the callbacks a `vaelab.fit` user passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from vaelab.objectives.result import ObjectiveValue
from vaelab.training.config_files import until_budget

if TYPE_CHECKING:
    from vaelab.training.engine import Loop, LoopSettings


class Callback:
    """Base class of training callbacks: every hook does nothing; override the ones you need.

    The order of the hooks and what each may do are in this module's docstring. Example:

        class Sharpness(vaelab.Callback):
            def on_epoch_end(self, loop, record):
                record["decoder_norm"] = sum(p.norm().item() for p in loop.model.parameters())
    """

    def on_train_start(self, loop: Loop) -> None:
        """Once, before the run folder is set up (fresh) or its checkpoint read (resume)."""

    def on_epoch_start(self, loop: Loop) -> None:
        """Before the epoch's first step; `loop.state.epoch` epochs are done."""

    def on_batch_end(self, loop: Loop, value: ObjectiveValue) -> None:
        """After each optimiser step; `value` is the step's objective value."""

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        """After the epoch's steps, before validation: entries added to `record` are kept."""

    def on_checkpoint(self, loop: Loop, record: dict[str, Any]) -> None:
        """After the epoch's record is written and its checkpoint saved."""

    def on_train_end(self, loop: Loop) -> None:
        """Once, when the loop stops (normally or by an error): close what the callback opened."""

    def describe(self, record: dict[str, Any]) -> str:
        """Text this callback adds to the epoch's progress line ("  name value"), or ""."""
        return ""


def epoch_text(epoch: int, settings: LoopSettings) -> str:
    """"epoch 3/10" for a 0-based epoch; "epoch 3" when the time budget, not epochs, ends the run."""
    return f"epoch {epoch + 1}" + ("" if until_budget(settings.epochs) else f"/{settings.epochs}")


class ProgressBar(Callback):
    """A tqdm bar over each epoch's batches on rank 0 (only on a terminal), with the loss every
    ten steps; it is gone when the epoch ends."""

    #: steps between two updates of the loss shown beside the bar
    EVERY = 10

    def __init__(self) -> None:
        self.bar: Any = None
        self.steps = 0

    def on_epoch_start(self, loop: Loop) -> None:
        self.bar = tqdm(total=loop.task.batches.steps_per_epoch(loop.context),
                        desc=epoch_text(loop.state.epoch, loop.settings),
                        disable=None if loop.is_main else True,  # None: only on a terminal
                        leave=False, unit="batch")
        self.steps = 0

    def on_batch_end(self, loop: Loop, value: ObjectiveValue) -> None:
        self.bar.update(1)
        if not self.bar.disable and self.steps % self.EVERY == 0:
            self.bar.set_postfix(loss=f"{value.loss.item():.2f}")
        self.steps += 1

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        self.on_train_end(loop)

    def on_train_end(self, loop: Loop) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EpochLog(Callback):
    """The line each epoch ends with — its training and validation scores, what the other
    callbacks describe, the time trained — and why the run stops, when it does.
    `more_time` ends the line that says the time budget is used up: how to train further."""

    #: an epoch that skipped more than this share of its steps says so: the guard is set below the
    #: typical gradient norm (e.g. binary-digit thresholds on an 8-bit likelihood), not at outliers
    SKIPPED_SHARE_WARNING = 0.1

    def __init__(self, more_time: str) -> None:
        self.more_time = more_time

    def on_checkpoint(self, loop: Loop, record: dict[str, Any]) -> None:
        task, settings, state = loop.task, loop.settings, loop.state
        name = task.score_name.replace("_", " ")
        valid = record.get(f"valid_{task.score_name}")
        valid_text = f"  valid {name} {valid:.2f}" if valid is not None else ""
        extra_text = "".join(callback.describe(record) for callback in loop.callbacks)
        loop.say(f"{epoch_text(record['epoch'] - 1, settings)}  train {name} "
                 f"{record[f'train_{task.score_name}']:.2f}{valid_text} {task.unit}{extra_text}  "
                 f"({state.seconds:.0f} s)")
        skipped = record.get("train_skipped_update", 0.0)
        if skipped > self.SKIPPED_SHARE_WARNING and not record.get("rewinds"):  # a rewind said why
            loop.say(f"warning: {skipped:.0%} of epoch {record['epoch']}'s steps were skipped: their "
                     f"gradient norm exceeded --grad-skip {settings.grad_skip:g}, which should catch rare "
                     "outliers only; raise --grad-skip (and --grad-clip) well above the typical norm")
        if state.out_of_time:
            loop.say(f"time budget of {settings.time_budget_minutes:g} min used up after epoch "
                     f"{state.epoch}; {self.more_time}")
        if state.stopped_early:
            loop.say(f"early stopping: no validation improvement for {settings.patience} epochs; "
                     f"best epoch {state.best_epoch}")


class EveryEpoch(Callback):
    """A plain function `function(model, record)` as a callback: called on rank 0 after each
    epoch's record and checkpoint are written, with the run's kept model (the weight average
    under `ema_decay`); its `close()`, when it has one, when training
    ends. How `vaelab.fit(callbacks=[...])` takes a function."""

    def __init__(self, function: Callable[[Any, dict[str, Any]], None]) -> None:
        self.function = function

    def on_checkpoint(self, loop: Loop, record: dict[str, Any]) -> None:
        if loop.is_main:
            self.function(loop.kept_model, record)

    def on_train_end(self, loop: Loop) -> None:
        close = getattr(self.function, "close", None)
        if callable(close):
            close()


class PhysicalConstants(Callback):
    """Records a model's learned physical constants (its `physical_constants()`: g/L and the
    damping b of a pendulum's physics rule, nothing for a learned transition) in every epoch's
    record, and shows them in the epoch's progress line. Any model with that method qualifies."""

    LABELS = {"g_over_L": "g/L", "damping": "b"}

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        constants = loop.kept_model.physical_constants() or {}
        self.names = tuple(constants)
        record.update(constants)

    def describe(self, record: dict[str, Any]) -> str:
        return "".join(f"  {self.LABELS.get(name, name)} {record[name]:.3f}"
                       for name in self.names if name in record)


class ActiveUnits(Callback):
    """Posterior-collapse diagnostics per latent group: how many of its dimensions the data move,
    Var_x(E_q[z | x]) > 0.01 (the "active units" of Burda et al. 2016), over fixed held-out
    examples `x` (on the model's device), recorded each epoch as `active_z1`, `active_z2`, ... (z1
    next to the data) and shown in the progress line. Any model with `encode_mean` qualifies."""

    THRESHOLD = 0.01

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x
        self.names: tuple[str, ...] = ()

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        model = loop.kept_model
        training = model.training
        model.eval()
        with torch.no_grad():
            means = model.encode_mean(self.x)
        model.train(training)
        groups = tuple(means) if isinstance(means, tuple) else (means,)
        active = {f"active_z{g + 1}": int((m.reshape(m.shape[0], -1).var(0) > self.THRESHOLD).sum())
                  for g, m in enumerate(groups)}
        self.names = tuple(active)
        record.update(active)

    def describe(self, record: dict[str, Any]) -> str:
        shown = [str(record[name]) for name in self.names if name in record]
        return f"  active units {'/'.join(shown)}" if shown else ""


def as_callback(callback: Callback | Callable[[Any, dict[str, Any]], None]) -> Callback:
    """A `Callback` as it is; a function of (model, record) as `EveryEpoch(function)`."""
    if isinstance(callback, Callback):
        return callback
    if callable(callback):
        return EveryEpoch(callback)
    raise TypeError(f"a callback is a vaelab.Callback or a function (model, record), got "
                    f"{type(callback).__name__}")


__all__ = ["ActiveUnits", "Callback", "EpochLog", "EveryEpoch", "PhysicalConstants", "ProgressBar",
           "as_callback", "epoch_text"]
