"""Reading experiment configs: TOML/JSON files, and sectioned dicts turned into typed configs.

Shared by every experiment config (frame models, sequence models) so that a bad file, an unknown
section or an unknown key reads the same everywhere: one `ConfigError` naming the file, section
or key and what is allowed.
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from vaelab.runs.length import MAX_EPOCHS as MAX_EPOCHS
from vaelab.runs.length import until_budget as until_budget
from vaelab.settings import ConfigError as ConfigError
from vaelab.settings import known


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw sections of a .toml or .json config file (any other suffix is refused)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.suffix.lower() not in (".toml", ".json"):
        raise ConfigError(f"config file {path}: a config is a .toml or a .json file")
    text = path.read_text()
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot parse {path}: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must hold sections model/data/train")
    return raw


def _whole(value: Any) -> bool:
    """A float with no fraction (10.0, 1e3): what a JSON or TOML file may hold for an integer."""
    return isinstance(value, float) and value.is_integer()


def _accepts(hint: Any, value: Any) -> bool | None:
    """Whether `value` has the type `hint` names (ints for floats, whole floats for ints, 0/1 for
    booleans, lists for tuples); None when the hint is not one of the plain kinds checked here
    (the dataclass checks it itself)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_accepts(member, value) for member in typing.get_args(hint)]
        return None if None in verdicts else any(verdicts)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool) or (isinstance(value, int) and value in (0, 1))
    if hint is int:
        return (isinstance(value, int) and not isinstance(value, bool)) or _whole(value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        member = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return isinstance(value, list | tuple) and all(_accepts(member, v) is not False for v in value)
    return None


def _type_text(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def check_types(name: str, cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with whole floats of integer fields made ints (10.0 -> 10, as older runs saved
    them); a value of the wrong type (1.5 epochs, text for a number) is refused naming the key."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # a hint that cannot be resolved here is not checked
        return dict(values)
    checked = dict(values)
    for key, value in values.items():
        if key not in hints:
            continue
        if _accepts(hints[key], value) is False:
            raise ConfigError(f"{name}.{key}: expected {_type_text(hints[key])}, got {value!r}")
        if hints[key] is int and _whole(value):
            checked[key] = int(value)
    return checked


def build_sections(raw: Mapping[str, Any], sections: Mapping[str, type]) -> dict[str, Any]:
    """{section name: config dataclass built from raw[name]} (missing sections get defaults).

    Unknown sections or keys are errors naming the allowed ones, not silently ignored; a
    dataclass's own validation error (TypeError/ValueError) becomes a ConfigError.
    """
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(f"config: unknown section(s) {sorted(unknown)}; allowed: {sorted(sections)}")
    parts: dict[str, Any] = {}
    for name, cls in sections.items():
        values = raw.get(name, {}) or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"{name}: must be a table/object of settings")
        values = check_types(name, cls, known(cls, values, name))
        try:
            parts[name] = cls(**values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(str(error)) from error
    return parts


class Experiment:
    """What every experiment config (a frozen dataclass with one field per section) does: turn to
    and from nested dicts, take overrides, save and load. A kind that marks its runs sets KIND,
    written as config.json's "kind"."""

    KIND: ClassVar[str | None] = None

    @classmethod
    def sections(cls) -> dict[str, type]:
        """{section name: its config class}, from the dataclass's fields."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in fields(cls)}  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {**({"kind": self.KIND} if self.KIND else {}), **asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """Build from nested dicts; unknown sections or keys are errors naming the allowed ones."""
        return cls(**build_sections({k: v for k, v in raw.items() if k != "kind"}, cls.sections()))

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Self:
        """A copy with some fields replaced, e.g. {"train": {"epochs": 3}} (a nested config's
        fields through a dict, e.g. {"data": {"pendulum": {"damping": 0.2}}}); validated again."""
        merged = self.to_dict()
        sections = self.sections()
        for section, values in overrides.items():
            renamed = getattr(sections.get(section), "RENAMED", {})
            target = merged.setdefault(section, {})
            for key, value in values.items():
                key = renamed.get(key, key)
                if isinstance(value, dict) and isinstance(target.get(key), dict):
                    target[key] = {**target[key], **value}
                else:
                    target[key] = value
        return self.from_dict(merged)

    def save(self, path: Path) -> None:
        """Write the config atomically (ranks of a distributed job may read it meanwhile)."""
        from vaelab.atomic_files import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a JSON or TOML config file."""
        return cls.from_dict(read_config_file(path))


def saved_config(run_dir: Path | str) -> dict[str, Any] | None:
    """A run folder's config.json as a dict; None when there is none or it is no JSON object."""
    path = Path(run_dir) / "config.json"
    try:
        raw = json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        return None
    return raw if isinstance(raw, dict) else None


__all__ = ["ConfigError", "Experiment", "build_sections", "read_config_file", "saved_config"]
