"""How long a run trains, as its saved config says: a number of epochs, or "until the time budget
runs out" (written as MAX_EPOCHS). Light (no torch): configs, the loop and reports read it."""

from __future__ import annotations

from typing import Final

#: the most epochs a config may ask for; a run whose length a time budget sets (no epochs given)
#: gets this many, so the budget, not a default epoch count, ends it
MAX_EPOCHS: Final = 100_000


def until_budget(epochs: int) -> bool:
    """Whether a run of `epochs` trains until its time budget (epochs were not given)."""
    return epochs >= MAX_EPOCHS


__all__ = ["MAX_EPOCHS", "until_budget"]
