"""Settings declared once: a config field's type, allowed values and help text in one annotation.

A config is a frozen dataclass whose fields read, e.g.

    epochs: Annotated[int, Range(0, MAX_EPOCHS), Help("passes over the training data")] = 10

`check(config, section)` (called by each config's `__post_init__`) normalises list values of tuple
fields and checks every constraint, raising one error that names the field and what is allowed:
"train.epochs: must be in [0, 100000], got -1". The command line builds its flags from the same
annotations (vaelab.kinds.flags): a field with `Help` is a `vaelab train` flag, its name the field's
in kebab case unless `Help(flag=...)` keeps an older one; its choices come from `OneOf`.

A subclass may redeclare a field to give it another default or a narrower constraint; the
constraints of every class that declares the field all apply (the most derived first), and the
help text is the nearest one declared. Imports nothing heavy: the command line reads it at start.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any


class ConfigError(ValueError):
    """A config value or file the user must fix; the message names the field."""


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Range:
    """low ≤ value ≤ high (`open_low` / `open_high`: strict); either bound may be None. On a tuple
    field every element must be in range. `note` says what a special value means, e.g. "0 = off"."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    note: str = ""

    def allowed(self) -> str:
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.open_low else '['}{_number(self.low)}, {_number(self.high)}"
                    f"{')' if self.open_high else ']'}")
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {_number(self.low)}"
        return f"{'<' if self.open_high else '<='} {_number(self.high)}"  # type: ignore[arg-type]

    def holds(self, value: float) -> bool:
        low_ok = self.low is None or (value > self.low if self.open_low else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return low_ok and high_ok

    def problem(self, value: Any) -> str | None:
        note = f" ({self.note})" if self.note else ""
        if isinstance(value, tuple):
            if all(self.holds(v) for v in value):
                return None
            return f"each value must be {self.allowed()}{note}, got {list(value)}"
        if isinstance(value, bool) or not isinstance(value, int | float) or self.holds(value):
            return None
        return f"must be {self.allowed()}{note}, got {value!r}"


@dataclass(frozen=True)
class OneOf:
    """One of the named `choices` (the flag's choices too); `note` explains them."""

    choices: tuple[str, ...]
    note: str = ""

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or value in self.choices:
            return None
        return f"{value!r} is not one of {', '.join(self.choices)}{f' ({self.note})' if self.note else ''}"


@dataclass(frozen=True)
class Registered:
    """One of the names a component registry holds when the config is checked: the built-in ones
    (the flag's choices) and any registered from Python since (`vaelab.components`)."""

    registry: Any  # a vaelab.registry.Registry: `name in registry`, `registry.names()`
    #: for names that carry a parameter ("iaf:4"): what is wrong with a value, or None; such a
    #: field's flag takes any text (no choices) and this function checks it
    parsed: Callable[[Any], str | None] | None = None

    @property
    def choices(self) -> tuple[str, ...] | None:
        return tuple(self.registry.names()) if self.parsed is None else None

    def problem(self, value: Any) -> str | None:
        if self.parsed is not None:
            return self.parsed(value)
        return OneOf(tuple(self.registry.names())).problem(value)


@dataclass(frozen=True)
class Matches:
    """A text matching the regular expression `pattern` whole; `allowed` says it in words."""

    pattern: str
    allowed: str

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or re.fullmatch(self.pattern, value):
            return None
        return f"must be {self.allowed}, got {value!r}"


@dataclass(frozen=True)
class NonEmpty:
    """At least one element (a tuple) or character (a text)."""

    what: str = "at least one value"

    def problem(self, value: Any) -> str | None:
        return None if value is None or len(value) > 0 else f"needs {self.what}"


@dataclass(frozen=True)
class Help:
    """What a setting means: the help of its `vaelab train` flag (a field without Help has no flag).

    `flag`: the flag's name where it is not the field's in kebab case (`--lr` for learning_rate);
    `aliases`: further names of the same flag; `const`: the flag takes no value and sets this one
    (`--bf16` sets precision = "bf16"); `negatable`: a boolean flag that has a --no- form too;
    `nargs`: "+" for a list given as separate words; `parse`: how the flag's text becomes the
    value (default: from the field's type; comma-separated for tuples of integers).
    """

    text: str
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    const: Any = None
    negatable: bool = False
    nargs: str | None = None
    parse: Callable[[str], Any] | None = None


Constraint = Range | OneOf | Registered | Matches | NonEmpty


@dataclass(frozen=True)
class Declared:
    """What a config class declares about one of its fields."""

    name: str
    hint: Any  # the type, without its Annotated metadata
    constraints: tuple[Constraint, ...]
    help: Help | None


def _plain(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(hint) is typing.Annotated:
        return hint.__origin__, tuple(hint.__metadata__)
    return hint, ()


@functools.cache
def declared(cls: type) -> dict[str, Declared]:
    """{field name: its type, every constraint declared on it (the most derived class's first), and
    the nearest help} for a config dataclass."""
    per_class = []
    for klass in cls.__mro__:
        own = klass.__dict__.get("__annotations__", {})
        if own:
            hints = typing.get_type_hints(klass, include_extras=True)
            per_class.append({name: _plain(hints[name]) for name in own if name in hints})
    out = {}
    for f in fields(cls):
        found = [entry[f.name] for entry in per_class if f.name in entry]
        metadata = [item for _, meta in found for item in meta]
        out[f.name] = Declared(
            f.name, found[0][0],
            tuple(item for item in metadata if isinstance(item, Constraint)),
            next((item for item in metadata if isinstance(item, Help)), None))
    return out


def element_type(hint: Any) -> Any:
    """int for tuple[int, ...] (or tuple[int, ...] | None), None for a hint that is no tuple."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [element_type(m) for m in typing.get_args(hint) if m is not type(None)]
        return members[0] if len(members) == 1 else None
    if typing.get_origin(hint) is tuple and typing.get_args(hint):
        return typing.get_args(hint)[0]
    return None


def check(config: Any, section: str, error: type[Exception] = ConfigError) -> None:
    """Normalise `config`'s tuple fields (lists of numbers become tuples of the declared type) and
    check every declared constraint; `error` names `section.field` and what is allowed."""
    for name, field_info in declared(type(config)).items():
        value = getattr(config, name)
        member = element_type(field_info.hint)
        if member in (int, float) and isinstance(value, list | tuple):
            try:
                value = tuple(member(v) for v in value)
            except (TypeError, ValueError) as failure:
                raise error(f"{section}.{name}: expected numbers, got {value!r}") from failure
            object.__setattr__(config, name, value)
        for constraint in field_info.constraints:
            problem = constraint.problem(value)
            if problem is not None:
                raise error(f"{section}.{name}: {problem}")


def check_values(cls: type, values: Mapping[str, Any], error: type[Exception] = ConfigError) -> None:
    """Check `values` (None: not given) against the constraints `cls` declares for those fields,
    for a function whose keyword arguments are those settings (e.g. vaelab.fit)."""
    settings = declared(cls)
    for name, value in values.items():
        for constraint in settings[name].constraints if value is not None else ():
            problem = constraint.problem(value)
            if problem is not None:
                raise error(f"{name}: {problem}")


def require(ok: bool, section: str, name: str, message: str,
            error: type[Exception] = ConfigError) -> None:
    """A check across fields, which no single field's annotation can state."""
    if not ok:
        raise error(f"{section}.{name}: {message}")


def known(cls: type, raw: Mapping[str, Any], section: str,
          error: type[Exception] = ConfigError) -> dict[str, Any]:
    """`raw` with the keys an older version wrote under another name renamed (a class's
    `RENAMED` = {old key: field}); an unknown key is refused naming the allowed ones."""
    values = dict(raw)
    for old, new in getattr(cls, "RENAMED", {}).items():
        if old in values:
            if new in values:
                raise error(f"{section}: {old} and {new} are one setting (its older and its present "
                            f"name); keep {new}")
            values[new] = values.pop(old)
    allowed = {f.name for f in fields(cls)}
    bad = set(values) - allowed
    if bad:
        raise error(f"{section}: unknown key(s) {sorted(bad)}; allowed: {sorted(allowed)}")
    return values


def build(cls: type, raw: Mapping[str, Any], section: str, error: type[Exception] = ConfigError) -> Any:
    """`cls(**raw)`, older key names read (`known`), an unknown key refused."""
    return cls(**known(cls, raw, section, error))


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated integers, e.g. "512,512" (at least one)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as failure:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from failure
    if not values:
        raise ValueError("expected at least one integer")
    return values


def widths(text: str) -> tuple[int, ...]:
    """Comma-separated integers, none at all allowed (an empty text: no hidden layer)."""
    return int_list(text) if text.strip(", ") else ()


__all__ = ["ConfigError", "Declared", "Help", "Matches", "NonEmpty", "OneOf", "Range", "build",
           "check", "check_values", "declared", "element_type", "int_list", "known", "require", "widths"]
