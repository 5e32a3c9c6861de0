"""How a run talks: progress lines printed at once, and silence (ranks other than 0)."""

from __future__ import annotations


def print_now(message: str) -> None:
    """Print a progress line immediately, even when stdout is a pipe or a file."""
    print(message, flush=True)


def silent(message: str) -> None:
    """Say nothing (ranks other than 0, and callers that asked for quiet)."""
