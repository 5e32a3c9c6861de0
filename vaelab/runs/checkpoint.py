"""Checkpoints that never unpickle code: tensors in safetensors, everything else in JSON.

A checkpoint holds the model's weights, the optimizer's state, the RNG state and the loop's
counters, so `--resume` continues with exactly the numbers an uninterrupted run would produce.
Files are written to a temporary name and renamed, so a crash never leaves a torn checkpoint.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from vaelab.atomic_files import FILE_MODE, temporary_beside
from vaelab.runs.files import BEST_WEIGHTS, CHECKPOINT


class CheckpointError(RuntimeError):
    """A run folder whose checkpoint is missing or unreadable."""


@dataclass
class LoopState:
    """The training loop's counters: where to continue, and early stopping's memory."""

    epoch: int = 0
    step: int = 0
    best_valid: float = float("-inf")
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    stopped_early: bool = False
    out_of_time: bool = False
    seconds: float = 0.0
    #: steps in a row whose gradient norm exceeded the guard (`grad_skip`), up to now
    skip_streak: int = 0


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tmp = temporary_beside(path)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata)
        os.chmod(tmp, FILE_MODE)  # safetensors recreates the file with 0600
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} is unreadable ({error}); "
                              "it may be truncated or not a vaelab checkpoint") from error
    return tensors, metadata


def _split_optimizer_state(state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for index, slots in state["state"].items():
        plain["state"][str(index)] = {}
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
                plain["state"][str(index)][key] = None
            else:
                plain["state"][str(index)][key] = value
    return tensors, plain


def _join_optimizer_state(tensors: Mapping[str, torch.Tensor], plain: dict) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for index, slots in plain["state"].items():
        state[int(index)] = {
            key: tensors[f"optimizer.{index}.{key}"] if value is None else value
            for key, value in slots.items()
        }
    return {"state": state, "param_groups": plain["param_groups"]}


#: the prefix of a weight average's tensors in a checkpoint (`train.ema_decay`), and of its weights
AVERAGE = "average."
AVERAGED_MODEL = AVERAGE + "module."


def save_checkpoint(
    run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, loop: LoopState,
    average: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Weights, optimizer state, RNG state and loop counters, atomically, in one file; `average`
    (a weight average's state, vaelab.training.averaging) beside them when the run keeps one."""
    opt_tensors, opt_plain = _split_optimizer_state(optimizer.state_dict())
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(opt_tensors)
    tensors.update({f"{AVERAGE}{k}": v for k, v in (average or {}).items()})
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    metadata = {"format": "vaelab-checkpoint-1", "optimizer": json.dumps(opt_plain),
                "loop": json.dumps(asdict(loop))}
    _save_tensors(run_dir / CHECKPOINT, tensors, metadata)


def _load_model_state(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """`model.load_state_dict(tensors)`; when they do not fit, one line saying how the file and the
    model differ instead of torch's dump (lazy modules and a model's own load hooks keep working:
    torch decides first)."""
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        own = model.state_dict()
        missing = sorted(set(own) - set(tensors))
        unexpected = sorted(set(tensors) - set(own))
        shapes = [f"{name} {tuple(tensors[name].shape)} in the file, {tuple(own[name].shape)} in the model"
                  for name in sorted(set(own) & set(tensors))
                  if not nn.parameter.is_lazy(own[name]) and tensors[name].shape != own[name].shape]

        def some(names: list[str]) -> str:
            return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")

        parts = ([f"missing from the file: {some(missing)}"] if missing else []) + \
            ([f"not in the model: {some(unexpected)}"] if unexpected else []) + \
            ([f"shapes differ: {some(shapes)}"] if shapes else [])
        if not parts:
            raise
        raise CheckpointError(f"the weights in {path} do not fit this {type(model).__name__} "
                              f"({'; '.join(parts)}); rebuild the model exactly as it was trained") from error


def _checkpoint_tensors(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of the run's checkpoint file, refused when it is not vaelab's."""
    tensors, metadata = _load_tensors(run_dir / CHECKPOINT)
    if metadata.get("format") != "vaelab-checkpoint-1":
        raise CheckpointError(f"{run_dir / CHECKPOINT} is not a vaelab checkpoint")
    return tensors, metadata


def _under(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with `prefix`, named without it."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _model_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's own tensors of a weights file, or of a checkpoint (which prefixes them "model."
    beside the optimiser's and the RNG's)."""
    return _under(tensors, "model.") or tensors


def load_checkpoint(
    run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> LoopState:
    """Restore what `save_checkpoint` wrote (RNG state included) and return the loop counters."""
    tensors, metadata = _checkpoint_tensors(run_dir)
    _load_model_state(model, _model_tensors(tensors), run_dir / CHECKPOINT)
    if optimizer is not None:
        optimizer.load_state_dict(_join_optimizer_state(tensors, json.loads(metadata["optimizer"])))
    torch.set_rng_state(tensors["rng.cpu"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    return LoopState(**json.loads(metadata["loop"]))


def checkpoint_average(run_dir: Path) -> dict[str, torch.Tensor] | None:
    """The weight average kept in a run's checkpoint (`save_checkpoint`'s `average`), or None
    when the checkpoint holds none."""
    tensors, _ = _checkpoint_tensors(run_dir)
    return _under(tensors, AVERAGE) or None


def checkpoint_loop(run_dir: Path) -> LoopState | None:
    """The loop counters of a run's last checkpoint, read without its tensors (None when the run
    has no checkpoint yet)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} is unreadable ({error}); "
                              "it may be truncated or not a vaelab checkpoint") from error
    if metadata.get("format") != "vaelab-checkpoint-1":
        raise CheckpointError(f"{path} is not a vaelab checkpoint")
    return LoopState(**json.loads(metadata["loop"]))


def refuse_fewer_epochs(run_dir: Path, epochs: int, asked: str) -> None:
    """Before a resumed run's config is rewritten: ValueError when it asks for fewer epochs than
    the run has trained (`asked` is how the caller wrote the request, e.g. "--epochs 10"), which
    would record a length the run no longer has; asking for exactly as many is "nothing to do"."""
    loop = checkpoint_loop(run_dir)
    if loop is not None and epochs < loop.epoch:
        raise ValueError(f"{run_dir} has already trained {loop.epoch} epochs; {asked} is fewer, and "
                         f"trained epochs are not undone (nothing was changed): ask for more than "
                         f"{loop.epoch} to train it further")


def save_weights(path: Path, model: nn.Module) -> None:
    """Model weights alone (e.g. the best model so far), atomically."""
    _save_tensors(path, dict(model.state_dict()), {"format": "vaelab-weights-1"})


def load_weights(path: Path, model: nn.Module) -> None:
    """Load the model tensors of the safetensors file `path` (a checkpoint or best weights) into
    `model`, refusing a file whose tensors do not fit it with a message naming them."""
    tensors, _ = _load_tensors(path)
    _load_model_state(model, _model_tensors(tensors), path)


class MissingBestWeightsWarning(UserWarning):
    """A run's best weights were asked for but its folder has lost them."""


def saved_model_state(run_dir: Path, best: bool = True) -> tuple[dict[str, torch.Tensor], Path]:
    """A run's model tensors and the file they came from: its best weights (when asked for and
    present), else its last checkpoint's — the weight average when the run keeps one (the model
    the run ended with; only `load_checkpoint`, which resumes training, reads the raw weights).
    The caller's RNG is left alone. Every run writes
    its best weights from the start, so asking for them in a run without the file (deleted)
    warns that the last checkpoint's stand in."""
    if best and (run_dir / BEST_WEIGHTS).is_file():
        tensors, _ = _load_tensors(run_dir / BEST_WEIGHTS)
        return _model_tensors(tensors), run_dir / BEST_WEIGHTS
    if best and (run_dir / CHECKPOINT).is_file():
        warnings.warn(f"{run_dir} has no {BEST_WEIGHTS} (the best epoch's weights): using the last "
                      f"checkpoint's weights instead", MissingBestWeightsWarning, stacklevel=2)
    tensors, _ = _checkpoint_tensors(run_dir)
    return _under(tensors, AVERAGED_MODEL) or _model_tensors(tensors), run_dir / CHECKPOINT


def load_run_weights(run_dir: Path, model: nn.Module, best: bool = True) -> None:
    """Load a run's best weights into `model` (when asked for and present), else its last
    checkpoint's (`saved_model_state`)."""
    tensors, path = saved_model_state(run_dir, best)
    _load_model_state(model, tensors, path)
