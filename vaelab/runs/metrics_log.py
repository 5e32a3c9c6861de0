"""RUN/metrics.jsonl, the training log: one JSON record per epoch, appended as training goes.

A process killed mid-write can leave a torn last line; readers skip it, and a resumed run drops
the lines of the epochs it will redo.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vaelab.atomic_files import atomic_write_text
from vaelab.runs.files import METRICS


def truncate_metrics(path: Path, epochs_done: int) -> None:
    """Drop metric lines for epochs a resumed run will redo (written after the last checkpoint)."""
    if not path.exists():
        return
    text = path.read_text()
    kept = "".join(ln + "\n" for ln in text.splitlines() if _epoch_of(ln) <= epochs_done)
    if kept != text:  # untouched otherwise: its time says when training last wrote it
        atomic_write_text(path, kept)


def _epoch_of(line: str) -> float:
    """A metrics line's epoch; blank or torn lines (a process killed mid-write) sort last."""
    try:
        return json.loads(line).get("epoch", 0)
    except (json.JSONDecodeError, AttributeError):
        return math.inf


def read_metrics(run_dir: Path) -> list[dict]:
    """The per-epoch records of a run, in order."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # blank, or torn by a process killed mid-write
            continue
    return records


__all__ = ["read_metrics", "truncate_metrics"]
