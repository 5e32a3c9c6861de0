"""Where a new run goes when nobody says: a fresh, dated folder under runs/ (no torch needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from vaelab.training.config_files import ConfigError

#: under torchrun, how many default folders of each name this process has handed out
_JOB_FOLDERS: dict[str, int] = {}


def default_run_dir(prefix: str) -> Path:
    """runs/PREFIX-YYYYmmdd-HHMMSS, with -2, -3, ... appended when that folder already exists.

    Under torchrun every process must pick the same folder, and a restarted job its old one, so
    the name comes from the launch's rendezvous id (runs/PREFIX-job-ID), never from a clock; a
    second run of the same name in one job (two `vaelab.fit` calls) gets runs/PREFIX-job-ID-2,
    and so on, counted per process, which every rank and every restart counts alike.
    """
    name = Path(prefix).name
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        job = os.environ.get("TORCHELASTIC_RUN_ID", "none")
        if job in ("", "none"):
            raise ConfigError("under torchrun every process must write to the same run folder: pass "
                              "--run-dir (in Python: run_dir=), or launch with --standalone or --rdzv-id")
        folder = f"{name}-job-{job.replace('/', '-')}"
        _JOB_FOLDERS[folder] = count = _JOB_FOLDERS.get(folder, 0) + 1
        return Path("runs") / (folder if count == 1 else f"{folder}-{count}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = Path("runs") / f"{name}-{stamp}", 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{name}-{stamp}-{n}"
    return path
