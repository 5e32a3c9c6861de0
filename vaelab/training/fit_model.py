"""`vaelab.fit`: train any latent-variable model a user brings, with everything the CLI's training has.

The model is any `LatentVariableModel` (a built-in one, `VAE.from_networks(...)` with the user's
own networks, a graph-declared model, or the user's own subclass); the data is a tensor, a numpy
array, a `torch.utils.data.Dataset`, or vaelab's image and sequence sets. Training goes through
the one loop of vaelab.training.engine, so exact resume, safetensors checkpoints, KL warm-up,
a NaN that names its step and term, early stopping, time budgets, progress bars, callbacks and
DDP under torchrun all apply.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vaelab.atomic_files import atomic_write_text
from vaelab.data.imageset import ImageSet
from vaelab.data.pendulum import SequenceSet
from vaelab.data.representation import (
    check_user_examples,
    stack_examples,
    to_model_space,
    user_examples_in_model_space,
)
from vaelab.data.streamed import StreamedImages
from vaelab.objectives.registry import OBJECTIVES, make_objective
from vaelab.objectives.result import ObjectiveValue
from vaelab.runs.checkpoint import LoopState, refuse_fewer_epochs
from vaelab.runs.distributed import Distributed
from vaelab.runs.distributed import setup as setup_distributed
from vaelab.runs.files import CONFIG
from vaelab.runs.metrics_log import read_metrics
from vaelab.settings import check_values
from vaelab.training.batches import (
    LoaderBatches,
    SequenceBatches,
    TensorBatches,
    image_batches,
    streamed_batches,
)
from vaelab.training.callbacks import Callback, as_callback
from vaelab.training.config import TrainConfig
from vaelab.training.config_files import MAX_EPOCHS
from vaelab.training.engine import (
    BatchSource,
    LoopSettings,
    Objective,
    TrainingTask,
    check_finite,
    make_optimizer,
    run_training,
)
from vaelab.training.run_folder import default_run_dir

#: the "kind" a run folder trained through `vaelab.fit` records in its config.json
CUSTOM_KIND = "custom"
#: epochs of a `fit` given neither epochs nor a time budget
DEFAULT_EPOCHS = 10

Data = torch.Tensor | np.ndarray | Dataset | ImageSet | StreamedImages | SequenceSet


@dataclass
class Run:
    """What `vaelab.fit` returns: the trained model (in eval mode), its per-epoch history (the
    records of RUN/metrics.jsonl), the run folder, and the loop's counters."""

    model: torch.nn.Module
    run_dir: Path
    state: LoopState
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_epoch(self) -> int:
        return self.state.best_epoch


def _named_objective(name: str, samples: int, sequence: bool, free_bits: float = 0.0) -> Objective:
    """A named bound: elbo / iwae (and their -stl / -dreg estimators) for frame models, elbo /
    iwae over whole windows for state-space models; `free_bits` floors the ELBO's KL term."""
    if free_bits and sequence:
        raise ValueError("free_bits: a state-space model's sequence ELBO has no free-bits floor; "
                         "leave free_bits = 0")
    if sequence:
        from vaelab.objectives.sequential import sequential_elbo, sequential_iwae_bound

        if name == "elbo":
            return lambda model, batch, kl_weight: sequential_elbo(model, batch, samples, kl_weight)
        if name == "iwae":
            return lambda model, batch, kl_weight: sequential_iwae_bound(model, batch, samples)
        raise ValueError(f"objective {name!r}: a state-space model trains with 'elbo' or 'iwae'")
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)} "
                         "or pass a function objective(model, batch[, kl_weight])")
    return make_objective(name, samples, free_bits)


def _user_objective(function: Callable[..., Any]) -> Objective:
    """objective(model, batch, kl_weight) from a user's function of (model, batch) or
    (model, batch, kl_weight) returning an ObjectiveValue or a scalar loss tensor."""
    try:
        takes_weight = len(inspect.signature(function).parameters) >= 3
    except (TypeError, ValueError):
        takes_weight = True

    def objective(model: Any, batch: Any, kl_weight: float) -> ObjectiveValue:
        value = function(model, batch, kl_weight) if takes_weight else function(model, batch)
        if isinstance(value, ObjectiveValue):
            return value
        if isinstance(value, torch.Tensor) and value.dim() == 0:
            return ObjectiveValue(loss=value, bound=-value.detach().reshape(1), terms={})
        raise TypeError(f"objective {getattr(function, '__name__', function)!r} returned "
                        f"{type(value).__name__}; return an ObjectiveValue or a scalar loss tensor")

    return objective


def _as_tensor_data(data: torch.Tensor | np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(data) if isinstance(data, np.ndarray) else data
    if tensor.dim() < 2:
        raise ValueError(f"training data must hold one example per row, got shape {tuple(tensor.shape)}")
    return tensor


def _batches(data: Data, model: torch.nn.Module, batch_size: int, seed: int, device: torch.device,
             window: int, workers: int, what: str = "training data") -> BatchSource:
    """The batch source for `data`: uint8 grey images are put in the model's units per batch
    (binarized afresh every epoch for a Bernoulli likelihood), 0/1 uint8 and float values are
    taken as they are; values the likelihood cannot score (NaN, grey floats for a Bernoulli one)
    are refused, naming `what`."""
    data_kind = getattr(model, "data_kind", "unit")
    if isinstance(data, ImageSet):
        return image_batches(data, data_kind, batch_size, seed, device)
    if isinstance(data, StreamedImages):
        return streamed_batches(data, data_kind, batch_size, seed, device, workers)
    if isinstance(data, SequenceSet):
        return SequenceBatches(data, data_kind, batch_size, seed, device, window)
    if isinstance(data, (torch.Tensor, np.ndarray)):
        tensor = _as_tensor_data(data)
        binary = check_user_examples(tensor, data_kind, what)
        if tensor.dtype == torch.uint8:
            def prepare(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
                return to_model_space(rows, binary, data_kind, generator)

            return TensorBatches(tensor.to(device), batch_size, seed, prepare)
        return TensorBatches(tensor.to(device).float(), batch_size, seed)
    if isinstance(data, Dataset):
        binary = _looks_binary(data)  # decided once, not per batch

        def checked(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            return user_examples_in_model_space(rows, data_kind, f"{what} (a batch of the Dataset)",
                                                generator, binary)

        return LoaderBatches(data, batch_size, seed, device, workers, checked)
    raise TypeError(f"cannot train on {type(data).__name__}; pass a tensor, a numpy array, a "
                    "torch.utils.data.Dataset, an ImageSet or a SequenceSet")


#: what a resumed `vaelab.fit` run may change: how long it trains and how fast; the rest (what it
#: optimises, on which batches, with which rate and noise) must match the run's config.json
RESUMABLE_LOOP = ("epochs", "time_budget_minutes", "patience", "compile", "precision")


def _check_resume(run_path: Path, description: dict[str, Any]) -> bool:
    """Refuse to resume a run with settings other than those it was started with; whether the
    folder's config.json is vaelab.fit's own (a kind built on fit may have written its own)."""
    saved_path = run_path / CONFIG
    if not saved_path.is_file():
        return False  # the engine says what is missing
    saved = json.loads(saved_path.read_text())
    if not isinstance(saved, dict) or saved.get("kind") != CUSTOM_KIND:
        return False
    changed = [f"{key}: {saved.get(key)!r} -> {value!r}" for key, value in description.items()
               if key != "loop" and key in saved and saved[key] != value]
    saved_loop = saved.get("loop", {})
    changed += [f"{key}: {saved_loop[key]!r} -> {value!r}" for key, value in description["loop"].items()
                if key not in RESUMABLE_LOOP and key in saved_loop and saved_loop[key] != value]
    if changed:
        raise ValueError(f"resume=True continues {run_path} with the settings it was started with; "
                         f"these differ: {'; '.join(changed)}. Only {', '.join(RESUMABLE_LOOP)} may "
                         "change; start a new run_dir to change the rest")
    return True


def _preflight(model: torch.nn.Module, objective: Objective,
               sources: Sequence[tuple[str, BatchSource]], context: Distributed) -> None:
    """Score the first batch of each source before the run folder is made, so that data of the
    wrong shape, an objective that fails or a non-finite loss stops `fit` with nothing written.
    In eval mode, with no backward pass and the random state restored: training is unchanged
    (the objective runs once more than the steps, which a counting objective would see)."""
    devices = [context.device] if context.device.type == "cuda" else []
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=devices):
            for what, source in sources:
                for batch, _ in source.epoch(0, context, whole=True):  # any size of data
                    try:  # with gradients for training data (an objective may take some), no backward
                        with torch.set_grad_enabled(what == "training data"):
                            check_finite(objective(model, batch, 1.0), 0, 0)
                    except (ValueError, TypeError, RuntimeError) as error:
                        where = f"scoring the first batch of the {what} (nothing was written)"
                        if type(error) in (ValueError, TypeError, RuntimeError):  # the message says where
                            raise type(error)(f"{where}: {error}") from error
                        error.add_note(f"(raised {where})")
                        raise
                    break
    finally:
        model.train(was_training)


#: items of a Dataset read to decide whether its uint8 images are 0/1 or grey levels
BINARY_PROBE = 256


def _looks_binary(data: Dataset) -> bool:
    """Whether a Dataset's uint8 examples are 0/1 (judged on its first BINARY_PROBE items)."""
    probe = stack_examples([data[i] for i in range(min(len(data), BINARY_PROBE))])  # type: ignore[arg-type]
    return probe.dtype == torch.uint8 and probe.numel() > 0 and bool(probe.max() <= 1)


@torch.no_grad()
def _mean_bound(model: torch.nn.Module, objective: Objective, batches: BatchSource,
                context: Distributed) -> float:
    """The objective's bound (kl weight 1) averaged over every example of a validation source."""
    was_training = model.training
    model.eval()
    total = torch.zeros(2, dtype=torch.float64)
    for batch, size in batches.epoch(0, context, whole=True):
        bound = objective(model, batch, 1.0).bound.double().cpu()
        total += torch.stack([bound.mean() * size, torch.tensor(float(size), dtype=torch.float64)])
    model.train(was_training)
    total = context.sum(total)
    return (total[0] / total[1]).item()


def fit(
    model: torch.nn.Module,
    train: Data,
    *,
    valid: Data | None = None,
    objective: str | Callable[..., Any] = "elbo",
    samples: int = 1,
    epochs: int | None = None,
    batch_size: int = 128,
    learning_rate: float | None = None,
    lr: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    run_dir: Path | str | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback | Callable[[torch.nn.Module, dict], None]] = (),
    device: str = "auto",
    compile: bool = False,
    precision: str = "fp32",
    time_budget_minutes: float | None = None,
    time_budget: float | None = None,
    kl_warmup_steps: int = 0,
    free_bits: float = 0.0,
    grad_clip: float = 0.0,
    ema_decay: float = 0.0,
    patience: int = 0,
    seed: int = 0,
    window: int = 0,
    workers: int = 0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Run:
    """Train `model` on `train` and return a `Run` (model, history, run folder).

    `objective`: "elbo", "iwae" (with `samples` = k), their "-stl"/"-dreg" variants, or a function
    objective(model, batch[, kl_weight]) returning an `ObjectiveValue` or a scalar loss.
    `free_bits` λ > 0 (elbo, elbo-stl) floors the KL term of the loss at λ nats, max(λ, batch-mean
    KL), as Kingma et al. 2016; the bound in the history is unchanged, the floored term is
    `train_kl_free_bits`. `valid`
    data is scored each epoch by the objective's bound; the best epoch's weights are kept in
    RUN/model_best.safetensors and `patience` > 0 stops when it stops improving. `learning_rate`
    (or `lr`; default 1e-3) drives Adam, or scales the groups of your own `optimizer`.
    `time_budget_minutes` (or `time_budget`) stops after the epoch that uses it up; `epochs`
    defaults to 10, or with a time budget to "until the budget runs out" (MAX_EPOCHS); given,
    whichever ends first stops the run. The settings a config's [train] shares (epochs, samples,
    batch_size, learning_rate, kl_warmup_steps, free_bits, grad_clip, ema_decay, patience,
    time_budget_minutes, precision) have its names and ranges (vaelab.training.train_settings);
    `ema_decay` > 0 keeps a moving average of the weights (vaelab.training.averaging) that
    validation, the best weights and the returned model use.
    `run_dir` defaults to runs/fit-TIME; `resume=True` continues the run in `run_dir` exactly
    where it stopped (rebuild the same model and call fit again with the same arguments).
    `callbacks` are `vaelab.Callback`s, whose hooks the loop calls at its named moments (see
    vaelab.training.callbacks: entries an `on_epoch_end` adds to the record land in
    metrics.jsonl and `run.history`), or functions callback(model, record), called on rank 0
    after each epoch's record and checkpoint are written (and closed at the end when they have a
    close()): `vaelab.TensorBoardLogger(run_dir + "/tensorboard")` logs to TensorBoard.
    Sequence data (`SequenceSet`) trains on random windows of `window` frames (0 = whole).
    Data larger than memory: `vaelab.open_dataset("big.npy", stream=True)["train"]` (or an image
    folder) is read a batch at a time by `workers` DataLoader processes, kept uint8 until on the
    device; any other `Dataset` is read through a DataLoader too.
    Under torchrun every rank calls fit with the same arguments; rank 0 writes the folder.
    `progress=False` turns the progress bar off; the one line per epoch goes to `log` (default:
    printed; `log=lambda line: None` silences it).
    """
    lr = _one_of(learning_rate, lr, "learning_rate", "lr")
    time_budget = _one_of(time_budget_minutes, time_budget, "time_budget_minutes", "time_budget")
    if epochs is None:
        epochs = MAX_EPOCHS if time_budget else DEFAULT_EPOCHS
    check_values(TrainConfig, {"epochs": epochs, "samples": samples, "batch_size": batch_size,
                               "learning_rate": lr, "kl_warmup_steps": kl_warmup_steps,
                               "free_bits": free_bits,
                               "grad_clip": grad_clip, "ema_decay": ema_decay, "patience": patience,
                               "time_budget_minutes": time_budget, "precision": precision}, ValueError)
    _check_resume_folder(resume, run_dir)
    hooks = [as_callback(callback) for callback in callbacks]
    context = setup_distributed(device)
    torch.manual_seed(seed)
    model = model.to(context.device)
    sequence = isinstance(train, SequenceSet)  # sequences train a state-space model
    if free_bits and not isinstance(objective, str):
        raise ValueError("free_bits: applies to a named objective (elbo, elbo-stl); your own "
                         "objective function floors its KL itself")
    step_objective = (_named_objective(objective, samples, sequence, free_bits)
                      if isinstance(objective, str) else _user_objective(objective))
    optimizer, base_lr = _optimizer_and_rate(model, optimizer, lr)
    batches = _batches(train, model, batch_size, seed, context.device, window, workers)
    valid_batches = (None if valid is None else
                     _batches(valid, model, batch_size, seed + 1, context.device, 0, workers,
                              "validation data"))
    run_path = Path(run_dir) if run_dir is not None else default_run_dir("fit")
    settings = LoopSettings(epochs=epochs, seed=seed, grad_clip=grad_clip,
                            kl_warmup_steps=kl_warmup_steps, patience=patience,
                            time_budget_minutes=time_budget or 0.0, compile=compile, precision=precision,
                            ema_decay=ema_decay)
    description = {"kind": CUSTOM_KIND, "model_class": type(model).__qualname__,
                   "objective": objective if isinstance(objective, str) else
                   getattr(objective, "__name__", "custom"),
                   "samples": samples, "batch_size": batch_size, "learning_rate": base_lr,
                   **({"free_bits": free_bits} if free_bits else {}), "loop": asdict(settings)}

    def save_config(path: Path) -> None:
        atomic_write_text(path, json.dumps(description, indent=2) + "\n")

    own_config = resume and _check_resume(run_path, description)
    if resume:
        refuse_fewer_epochs(run_path, epochs, f"epochs={epochs}")
    _preflight(model, step_objective, [("training data", batches)]
               + ([("validation data", valid_batches)] if valid_batches is not None else []), context)
    if own_config and context.is_main:
        save_config(run_path / CONFIG)  # the resumed run's epochs and budget, as it now trains

    def validate(model: torch.nn.Module) -> float | None:
        if valid_batches is None:
            return None
        return _mean_bound(model, step_objective, valid_batches, context)

    task = TrainingTask(model=model, optimizer=optimizer, objective=step_objective, batches=batches,
                        learning_rate=lambda _epoch, _seconds: base_lr, save_config=save_config,
                        validate=validate, unit="nats per sequence" if sequence else "nats",
                        callbacks=_sequence_callbacks() if sequence else ())
    state = run_training(task, settings, run_path, context, resume=resume, progress=progress, log=log,
                         callbacks=hooks,
                         more_time="vaelab.fit(..., resume=True) with a larger time_budget continues")
    return Run(model=model, run_dir=run_path, state=state, history=read_metrics(run_path))


def _check_resume_folder(resume: bool, run_dir: Path | str | None) -> None:
    """Refuse `resume=True` without a run folder to continue, before anything is built."""
    if resume and run_dir is None:
        raise ValueError("resume=True needs the run_dir of the run to continue")
    if resume and not Path(run_dir).is_dir():
        raise FileNotFoundError(f"resume=True: {run_dir} does not exist; pass the run_dir of an "
                                "earlier vaelab.fit, or drop resume=True to start a run there")


def _one_of(value: Any, alias: Any, name: str, alias_name: str) -> Any:
    """A keyword given under its config name or its older short name, not both."""
    if value is not None and alias is not None:
        raise ValueError(f"{name} and {alias_name} are one setting; pass {name}")
    return alias if value is None else value


def _optimizer_and_rate(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                        lr: float | None) -> tuple[torch.optim.Optimizer, float]:
    """`make_optimizer`'s Adam at `lr` (default 1e-3), or the user's optimiser with each group's
    rate as a factor of `lr` (default: its first group's rate); the optimiser and the base rate."""
    if optimizer is None:
        base_lr = 1e-3 if lr is None else lr
        return make_optimizer(model, base_lr), base_lr
    base_lr = optimizer.param_groups[0]["lr"] if lr is None else lr
    for group in optimizer.param_groups:
        group.setdefault("lr_factor", group["lr"] / base_lr)
    return optimizer, base_lr


def _sequence_callbacks() -> list[Callback]:
    """A state-space model's learned physical constants in every epoch's record."""
    from vaelab.training.callbacks import PhysicalConstants

    return [PhysicalConstants()]





def load_weights(model: torch.nn.Module, run_dir: Path | str, best: bool = True) -> torch.nn.Module:
    """Load a run's weights into a model you rebuilt (the run's best weights when it kept them,
    else its last checkpoint's) and return it in eval mode: how a model trained through
    `vaelab.fit` is reloaded in a later session."""
    from vaelab.runs.checkpoint import load_run_weights

    load_run_weights(Path(run_dir), model, best)
    return model.eval()
__all__ = ["CUSTOM_KIND", "Run", "fit", "load_weights"]
