"""Model kinds as plug-ins: a registry, not an if-chain.

A kind (the VAE family, state-space models, semi-supervised M2 / M1+M2 / ADGM / SDGM, or one of your own) is
one module that supplies everything vaelab needs to train, evaluate, sample and load runs of it
from a config: its config section and flags, its builder, data, objective and evaluation. The
CLI has one path for every command and asks the registry which kind a `--model` name or a run
folder belongs to; adding a kind adds no branch anywhere.

Registering costs nothing at start-up: the registry holds names and a module path, and the
module is imported only when a command needs it. A kind module provides the `KindModule`
functions below, and may provide any of the `OPTIONAL_COMMANDS` (a command a kind lacks is one
clear error naming the kinds that have it).

Kinds from other packages register through the entry-point group `vaelab.kinds`: each entry
names a `ModelKind` (`toy = "mypackage.vaelab_kind:KIND"`), read the first time the registry is
asked, so `vaelab train --model toy` works once the package is installed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

CONFIG = "config.json"
ENTRY_POINT_GROUP = "vaelab.kinds"
"""The entry-point group through which other packages register kinds."""

OPTIONAL_COMMANDS = ("reconstruct", "report", "predict", "compare", "classify", "explore_session")
"""Commands a kind may or may not have: `vaelab NAME RUN` calls the kind module's function NAME(args);
`explore_session(run, device, data_dir)` gives `vaelab explore` the page's session."""


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
_ENTRY_POINTS_READ = False


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


def read_entry_points() -> None:
    """Register the kinds that installed packages declare in the `vaelab.kinds` entry-point group
    (once per process). A broken entry is skipped with one line on stderr: another package's
    mistake must not stop vaelab."""
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = entry.load()
            if not isinstance(kind, ModelKind):
                raise KindError(f"it names a {type(kind).__name__}, not a vaelab.kinds.ModelKind")
            register_kind(kind)
        except Exception as error:  # noqa: BLE001 - any failure of a plug-in is reported, not raised
            print(f"vaelab: warning: skipped the kind {entry.name!r} of entry point {entry.value!r} "
                  f"({ENTRY_POINT_GROUP}): {error}", file=sys.stderr)


def registered_kinds() -> tuple[ModelKind, ...]:
    """Every kind, in registration order (checked in reverse: a later kind may specialise)."""
    read_entry_points()
    return tuple(_REGISTRY.values())


def registered_kinds_by_name() -> dict[str, ModelKind]:
    """Every kind by its name."""
    read_entry_points()
    return dict(_REGISTRY)


def model_names() -> tuple[str, ...]:
    """Every `--model` name any kind answers to."""
    return tuple(name for kind in registered_kinds() for name in kind.models)


def command_of(kind: ModelKind, command: str) -> Callable[..., Any]:
    """The kind module's function for an optional `command` (see OPTIONAL_COMMANDS); KindError
    naming the kinds that have it when this kind does not."""
    function = getattr(kind.module(), command, None)
    if callable(function):
        return function
    others = [other for other in registered_kinds() if other.name != kind.name
              and callable(getattr(other.module(), command, None))]
    shown = command.removesuffix("_session")
    having = ", ".join("|".join(other.models) for other in others) or "none"
    raise KindError(f"`vaelab {shown}` does not apply to runs of kind {kind.name!r} "
                    f"(--model {'|'.join(kind.models)}); it is for --model {having}")


def kind_for_model(name: str) -> ModelKind:
    """The kind a `--model` name selects."""
    for kind in registered_kinds():
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
    for kind in reversed(registered_kinds()):
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
    "vae", ("vae", "deep"), _frame_config, "vaelab.kinds.vae",
    "a latent-variable model of images: VAE / IWAE, hierarchical and ladder VAEs, learned priors; "
    "deep = a top-down hierarchy of latent groups (NVAE / VDVAE class)"))
register_kind(ModelKind(
    "ssm", ("ssm",), _kind_is("ssm"), "vaelab.kinds.ssm",
    "a state-space model of image sequences (e.g. --dataset pendulum)"))
register_kind(ModelKind(
    "semisupervised", ("m2", "m1m2", "adgm", "sdgm"), lambda raw: "semisupervised" in raw,
    "vaelab.kinds.semisupervised",
    "semi-supervised classifiers M2 and M1+M2 (Kingma et al. 2014), ADGM and SDGM (Maaløe et al. 2016)"))


def load_run(run_dir: Path, best: bool = True, device: str = "cpu", data: bool = True,
             data_dir: str | None = None) -> tuple[Any, Any, Any]:
    """(model, config, splits) of a run of any registered kind, by its kind's `load` (a
    `vaelab.runs.loader.RunLoader` for evaluations and reports of mixed runs)."""
    return kind_of_run(run_dir).module().load(Path(run_dir), best=best, device=device, data=data,
                                               data_dir=data_dir)


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
    "ENTRY_POINT_GROUP",
    "OPTIONAL_COMMANDS",
    "KindError",
    "KindModule",
    "ModelKind",
    "command_of",
    "kind_for_model",
    "kind_of_config",
    "kind_of_run",
    "load",
    "load_run",
    "model_names",
    "read_entry_points",
    "read_run_config",
    "register_kind",
    "registered_kinds",
    "registered_kinds_by_name",
    "unregister_kind",
]
