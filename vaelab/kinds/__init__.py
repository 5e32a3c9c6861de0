"""Model kinds as plug-ins: a registry, not an if-chain.

A kind (the VAE family, state-space models, semi-supervised M2 / M1+M2, or one of your own) is
one module that supplies everything vaelab needs to train, evaluate, sample and load runs of it
from a config: its config section and flags, its builder, data, objective and evaluation. The
CLI has one path for every command and asks the registry which kind a `--model` name or a run
folder belongs to; adding a kind adds no branch anywhere.

Registering costs nothing at start-up: the registry holds names and a module path, and the
module is imported only when a command needs it. A kind module provides the `KindModule`
functions below.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

CONFIG = "config.json"


class KindError(ValueError):
    """A run folder or a --model name that no registered kind claims; the message says why."""


class KindModule(Protocol):
    """What a kind's module provides (module-level functions)."""

    def add_train_flags(self, parser: argparse.ArgumentParser) -> None:
        """Add this kind's own `vaelab train` flags (in an argument group of its own)."""

    def train(self, args: argparse.Namespace) -> int:
        """`vaelab train --model NAME ...` and `vaelab train --resume RUN` of this kind."""

    def evaluate(self, args: argparse.Namespace) -> int:
        """`vaelab evaluate RUN` of this kind."""

    def sample(self, args: argparse.Namespace) -> int:
        """`vaelab sample RUN` of this kind."""

    def load(self, run_dir: Path, best: bool = True, device: str = "cpu",
             data: bool = True, data_dir: str | None = None) -> tuple[Any, Any, Any]:
        """(model in eval mode, config, data splits) of a run folder of this kind; with
        `data=False` from the run folder alone (splits may then be None). `data_dir`, when given:
        where the run's data are now (a kind whose data cannot move may leave it out)."""


@dataclass(frozen=True)
class ModelKind:
    """One registered kind: its name, the `--model` names that select it, how to recognise its
    run folders from their saved config, and the module that implements it."""

    name: str
    models: tuple[str, ...]
    owns: Callable[[Mapping[str, Any]], bool]
    implementation: str
    summary: str = ""

    def module(self) -> Any:
        """The implementing module (imported on first use)."""
        module: ModuleType = importlib.import_module(self.implementation)
        return module


_REGISTRY: dict[str, ModelKind] = {}


def register_kind(kind: ModelKind) -> ModelKind:
    """Add a kind; its --model names must not be taken by another kind."""
    for other in _REGISTRY.values():
        taken = sorted(set(other.models) & set(kind.models))
        if other.name != kind.name and taken:
            raise KindError(f"kind {kind.name!r}: --model name(s) {taken} already belong to kind "
                            f"{other.name!r}")
    _REGISTRY[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind (tests register toy kinds and remove them again)."""
    _REGISTRY.pop(name, None)


def registered_kinds() -> tuple[ModelKind, ...]:
    """Every kind, in registration order (checked in reverse: a later kind may specialise)."""
    return tuple(_REGISTRY.values())


def registered_kinds_by_name() -> dict[str, ModelKind]:
    """Every kind by its name."""
    return dict(_REGISTRY)


def model_names() -> tuple[str, ...]:
    """Every `--model` name any kind answers to."""
    return tuple(name for kind in _REGISTRY.values() for name in kind.models)


def kind_for_model(name: str) -> ModelKind:
    """The kind a `--model` name selects."""
    for kind in _REGISTRY.values():
        if name in kind.models:
            return kind
    raise KindError(f"--model {name!r} is not a registered kind; choose one of {', '.join(model_names())}")


def read_run_config(run_dir: Path | str) -> dict[str, Any]:
    """A run folder's saved config.json as a dict; KindError when the folder is no run."""
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).exists():
        raise KindError(f"{run_dir} does not exist; pass the run folder that `vaelab train` wrote")
    if not path.is_file():
        raise KindError(f"{run_dir} is not a vaelab run folder (no {CONFIG}); pass the folder that "
                        "`vaelab train` wrote")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise KindError(f"{path} is not valid JSON ({error})") from error
    if not isinstance(raw, dict):
        raise KindError(f"{path} does not hold a run config")
    return raw


def kind_of_config(raw: Mapping[str, Any], where: str = "config") -> ModelKind:
    """The kind that claims a saved config (the last registered that does)."""
    for kind in reversed(_REGISTRY.values()):
        if kind.owns(raw):
            return kind
    label = raw.get("kind", "?")
    if label == "custom":  # vaelab.fit's runs: the model is the user's, only they can rebuild it
        raise KindError(
            f"{where}: this run trained a model you built ({raw.get('model_class', '?')}) with "
            "vaelab.fit, which the command line cannot rebuild; in Python, construct the model "
            "again, then vaelab.load_weights(model, RUN) and vaelab.evaluate / vaelab.report / "
            "model.sample(n)")
    raise KindError(f"{where}: no registered kind reads runs of kind {label!r}")


def kind_of_run(run_dir: Path | str) -> ModelKind:
    """The kind of the run in `run_dir`, from its config.json."""
    return kind_of_config(read_run_config(run_dir), str(Path(run_dir) / CONFIG))


def _kind_is(name: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda raw: raw.get("kind") == name


def _frame_config(raw: Mapping[str, Any]) -> bool:
    """Frame-model configs (the first kind) carry no "kind" key, as they always have."""
    return "kind" not in raw and "semisupervised" not in raw


register_kind(ModelKind(
    "vae", ("vae",), _frame_config, "vaelab.kinds.vae",
    "a latent-variable model of images: VAE / IWAE, hierarchical and ladder VAEs, learned priors"))
register_kind(ModelKind(
    "ssm", ("ssm",), _kind_is("ssm"), "vaelab.kinds.ssm",
    "a state-space model of image sequences (e.g. --dataset pendulum)"))
register_kind(ModelKind(
    "semisupervised", ("m2", "m1m2"), lambda raw: "semisupervised" in raw, "vaelab.kinds.semisupervised",
    "semi-supervised classifiers M2 and M1+M2 (Kingma et al. 2014)"))


def load(run_dir: Path | str, best: bool = True, device: str = "cpu") -> Any:
    """The trained model of a run folder of any registered kind, in eval mode on `device`
    (its best weights when the run kept them), from the run folder alone (no dataset needed).
    A run trained through `vaelab.fit` with your own model is reloaded by rebuilding the module
    and `vaelab.load_weights(model, run_dir)`."""
    raw = read_run_config(run_dir)
    if raw.get("kind") == "custom":
        raise KindError(f"{run_dir} holds a model you built ({raw.get('model_class', '?')}); vaelab "
                        "cannot rebuild it: construct it again and call "
                        f"vaelab.load_weights(model, {str(run_dir)!r})")
    model, _, _ = kind_of_config(raw, str(Path(run_dir) / CONFIG)).module().load(
        Path(run_dir), best=best, device=device, data=False)
    return model


__all__ = [
    "KindError",
    "KindModule",
    "ModelKind",
    "kind_for_model",
    "kind_of_config",
    "kind_of_run",
    "load",
    "model_names",
    "read_run_config",
    "register_kind",
    "registered_kinds",
    "registered_kinds_by_name",
    "unregister_kind",
]
