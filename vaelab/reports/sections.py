"""The one registry of report sections.

A run section is a function `(RunContext) -> Section | None` (None: "this run has nothing to
show here", e.g. no estimators.json); a comparison section is `(list[RunContext]) -> Section |
None` and appears once, above the runs, when a report covers several runs. Sections register
themselves with a decorator and appear in order of `order`, then of registration:

    @register_section(order=45)
    def label_accuracy(run: RunContext) -> Section | None: ...

Built-in sections use orders 10-110 in steps of 10; a bare `@register_section` goes after
them. A later feature (semi-supervised classifiers, pendulum rollouts) adds its sections with the
same decorator in its own module, imported from `vaelab/reports/__init__.py` so they register.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

from vaelab.reports.blocks import Section
from vaelab.reports.context import RunContext

RunSection = Callable[[RunContext], Section | None]
ComparisonSection = Callable[[Sequence[RunContext]], Section | None]

DEFAULT_ORDER = 1000


@dataclass(frozen=True)
class _Entry:
    order: int
    index: int
    build: Callable[..., Section | None]


_RUN: list[_Entry] = []
_COMPARISON: list[_Entry] = []
_COUNTER = itertools.count()


def _add(registry: list[_Entry], build: Callable[..., Section | None], order: int) -> None:
    if any(entry.build is build for entry in registry):
        raise ValueError(f"report section {build.__name__!r} is already registered")
    registry.append(_Entry(order, next(_COUNTER), build))


@overload
def register_section(build: RunSection, *, order: int = DEFAULT_ORDER) -> RunSection: ...
@overload
def register_section(build: None = None, *,
                     order: int = DEFAULT_ORDER) -> Callable[[RunSection], RunSection]: ...
def register_section(build: RunSection | None = None, *, order: int = DEFAULT_ORDER
                     ) -> RunSection | Callable[[RunSection], RunSection]:
    """Add a per-run section; use as `@register_section` or `@register_section(order=N)`."""
    if build is not None:
        _add(_RUN, build, order)
        return build

    def decorate(fn: RunSection) -> RunSection:
        _add(_RUN, fn, order)
        return fn
    return decorate


def register_comparison(order: int = DEFAULT_ORDER
                        ) -> Callable[[ComparisonSection], ComparisonSection]:
    """Add a section shown once for a report of several runs: `@register_comparison(order=N)`."""
    def decorate(fn: ComparisonSection) -> ComparisonSection:
        _add(_COMPARISON, fn, order)
        return fn
    return decorate


def unregister(build: Callable[..., Section | None]) -> None:
    """Remove a registered section (tests and plug-ins that replace a built-in one)."""
    for registry in (_RUN, _COMPARISON):
        registry[:] = [entry for entry in registry if entry.build is not build]


def run_sections() -> list[RunSection]:
    """The per-run sections in page order."""
    return [e.build for e in sorted(_RUN, key=lambda e: (e.order, e.index))]


def comparison_sections() -> list[ComparisonSection]:
    """The multi-run sections in page order."""
    return [e.build for e in sorted(_COMPARISON, key=lambda e: (e.order, e.index))]
