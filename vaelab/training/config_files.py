"""Reading experiment configs: TOML/JSON files, and sectioned dicts turned into typed configs.

Shared by every experiment config (frame models, sequence models) so that a bad file, an unknown
section or an unknown key reads the same everywhere: one `ConfigError` naming the file, section
or key and what is allowed.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config value or file the user must fix; the message names the field."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw sections of a .toml or .json config file (any other suffix is read as JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot parse {path}: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must hold sections model/data/train")
    return raw


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
        allowed = {f.name for f in fields(cls)}
        bad = set(values) - allowed
        if bad:
            raise ConfigError(f"{name}: unknown key(s) {sorted(bad)}; allowed: {sorted(allowed)}")
        try:
            parts[name] = cls(**values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(str(error)) from error
    return parts


__all__ = ["ConfigError", "build_sections", "read_config_file"]
