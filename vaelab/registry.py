"""A registry of named components: name -> class, imported on first use (timm's `register_model`).

Every kind of component vaelab lets a config choose by name (priors, guide families, likelihood
families, objectives, architectures, hierarchical inference, state-space transitions, guides and
combiners) has one `Registry`; the built-in entries are listed in `vaelab.components`.

Why names point at "module:attribute" strings rather than at classes decorated where they are
defined: the command line lists every choice (`vaelab --help`, `choices=` of a flag, config
validation) without loading torch, and a decorator only runs once its module — and so torch — is
imported. A catalog of strings costs nothing at start-up; the class is imported the first time a
model is built with it. Reading the modules' source with `ast` to find decorators would give the
same names without an import, but would make the list depend on which files are scanned and in
what order; the catalog line is as short, explicit, and ordered as the choices are shown. The
class stays the single source of its name: each registered class declares `name`, `get` checks
that it matches the catalog, and the tests resolve every catalog entry.

Code outside vaelab (a test, a user's module, the flows issue's guide families) registers a class
directly, `vaelab.components.priors.register(MyPrior)` or `@priors.register` on the class: the
entry is then the class itself, with nothing to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """An unknown name (the message lists the choices) or a name registered twice."""


def _declared_names(entry: Any) -> tuple[str, ...]:
    """The names a component answers to: its `names` (one class, several choices, as the
    pendulum transition's physics rules) or its `name`."""
    names = getattr(entry, "names", None)
    if names is not None:
        return tuple(names)
    name = getattr(entry, "name", None)
    return (name,) if isinstance(name, str) else ()


class Registry(Generic[T]):
    """Names -> components of one kind (e.g. "prior"), in registration order.

    An entry is a component (usually a class with a `name`) or a "module:attribute" string that
    names one; a string is imported on first `get` and checked to declare the name it is
    registered under.
    """

    def __init__(self, kind: str, contract: str = "") -> None:
        self.kind = kind
        #: what an entry must provide, shown in errors and documentation
        self.contract = contract
        self._entries: dict[str, T | str] = {}

    def add(self, name: str, entry: T | str) -> None:
        """Register `entry` under `name`; a name already taken is refused."""
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries:
            raise RegistryError(f"{self.kind} {name!r} is already registered "
                                f"({self._describe(name)}); pick another name")
        self._entries[name] = entry

    def register(self, component: T) -> T:
        """Register a component under each name it declares (`name`, or `names`); returns it,
        so it works as a class decorator."""
        names = _declared_names(component)
        if not names:
            raise RegistryError(f"{component!r} declares no `name`; a registered {self.kind} "
                                "names itself (e.g. name = \"mine\")")
        for name in names:
            self.add(name, component)
        return component

    def remove(self, name: str) -> None:
        """Forget a name (tests register toy components and remove them again)."""
        self._entries.pop(name, None)

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def target(self, name: str) -> T | str:
        """The entry as registered: a component, or its "module:attribute" before first use."""
        self._require(name)
        return self._entries[name]

    def get(self, name: str) -> T:
        """The component registered as `name` (imported on first use)."""
        self._require(name)
        entry = self._entries[name]
        if isinstance(entry, str):
            resolved: T = _import(entry)
            if name not in _declared_names(resolved):
                raise RegistryError(f"{self.kind} {name!r} points at {entry}, which declares "
                                    f"{_declared_names(resolved) or 'no name'}")
            self._entries[name] = resolved
            return resolved
        return entry

    def _require(self, name: str) -> None:
        if name not in self._entries:
            choices = ", ".join(self._entries) or "(none registered)"
            raise RegistryError(f"unknown {self.kind} {name!r}; choose one of {choices}")

    def _describe(self, name: str) -> str:
        entry = self._entries[name]
        return entry if isinstance(entry, str) else getattr(entry, "__qualname__", repr(entry))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"


def _import(target: str) -> Any:
    module, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def catalog(kind: str, entries: dict[str, str], contract: str = "") -> Registry[Any]:
    """A registry holding the built-in `entries` (name -> "module:attribute"), in that order."""
    registry: Registry[Any] = Registry(kind, contract)
    for name, target in entries.items():
        registry.add(name, target)
    return registry


__all__ = ["Registry", "RegistryError", "catalog"]
