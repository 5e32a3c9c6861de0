"""Progress bars for the slow steps of evaluations and reports: the one place they meet tqdm.

An estimator in `vaelab.objectives` takes an optional callback (`on_chunk`, `on_step`) and says
how much it has done; the evaluation layer turns that into a bar here. `progress` is the
caller's wish: True shows the bar, False hides it, None (the default) shows it only when stderr
is a terminal (so logs, pipes and tests stay clean).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

#: how much work was just finished, in the bar's units
Advance = Callable[[int], None]


def _disable(progress: bool | None) -> bool | None:
    """tqdm's `disable`: None lets tqdm hide the bar when stderr is not a terminal."""
    return None if progress is None else not progress


@contextmanager
def progress_bar(total: int, description: str, progress: bool | None = None,
                 unit: str = "it") -> Iterator[Advance]:
    """A bar on stderr counting `total` units; yields the function that advances it."""
    bar = tqdm(total=total, desc=description, unit=unit, unit_scale=total >= 10_000,
               disable=_disable(progress), file=sys.stderr, dynamic_ncols=True, leave=True)
    try:
        yield bar.update
    finally:
        bar.close()


@contextmanager
def progress_bar_with_notes(total: int, description: str, progress: bool | None,
                            unit: str, log: Callable[[str], None] | None,
                            ) -> Iterator[tuple[Advance, Callable[[str], None]]]:
    """`progress_bar`, and a `note(text)` for running figures: shown in the bar while there is
    one (a line printed under a bar that is being redrawn lands on top of it), else given to
    `log` as a line (logs, pipes), else dropped."""
    bar = tqdm(total=total, desc=description, unit=unit, unit_scale=total >= 10_000,
               disable=_disable(progress), file=sys.stderr, dynamic_ncols=True, leave=True)

    def note(text: str) -> None:
        if not bar.disable:
            bar.set_postfix_str(text.strip())
        elif log is not None:
            log(text)

    try:
        yield bar.update, note
    finally:
        bar.close()


def ignore(done: int) -> None:
    """An `Advance` that counts nothing (for callers that need one but show no bar)."""


def scaled(advance: Advance, factor: int) -> Advance:
    """`advance` for callbacks that count in units `factor` times smaller than the bar's
    (e.g. samples per example, on a bar over examples × samples)."""
    return lambda done: advance(done * factor)


__all__ = ["Advance", "ignore", "progress_bar", "progress_bar_with_notes", "scaled"]
