"""Record what the current code produces, for test_compatibility.py to hold later code to.

    PYTHONPATH=. OMP_NUM_THREADS=1 python -m tests.compatibility.record_baseline [--force]

Runs every spec of specs.py (tiny fixed-seed `vaelab train` + `vaelab evaluate` runs of each model
kind, on the CPU, one thread) and writes

- baseline.json: per kind, the per-epoch records of RUN/metrics.jsonl and the numbers of
  RUN/metrics.json after training and after `vaelab evaluate`; per committed run folder, the
  numbers of evaluating and of resuming a copy of it;
- runs/<kind>/: the run folders of the specs marked `fixture` (config, metrics, weights; no
  pictures), the "old run folders" that later code must still evaluate and resume.

The baseline is a record of the code *before* a change: regenerate it only on purpose (--force),
never to make a failing compatibility test pass.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from tests.compatibility.specs import (
    BASELINE,
    FIXTURE_MAX_BYTES,
    FIXTURE_SUFFIXES,
    RUNS,
    SPECS,
    check_old_run,
    isolated,
    run_spec,
)


def keep_fixture(run_dir: Path, destination: Path) -> list[str]:
    """Copy a run folder's config, metrics and weights (not its pictures) to `destination`."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    kept = []
    for path in sorted(run_dir.iterdir()):
        if path.is_file() and path.name.endswith(FIXTURE_SUFFIXES):
            size = path.stat().st_size
            if size > FIXTURE_MAX_BYTES:
                raise SystemExit(f"{path} is {size} bytes, over {FIXTURE_MAX_BYTES}: shrink the spec")
            shutil.copy2(path, destination / path.name)
            kept.append(path.name)
    return kept


def code_version() -> str:
    """The commit the baseline was recorded at (with '+dirty' when the tree had changes)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "vaelab"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def record(workdir: Path) -> dict[str, Any]:
    """Run every spec into `workdir`, keep the fixtures, check copies of them; the baseline."""
    kinds: dict[str, Any] = {}
    old_runs: dict[str, Any] = {}
    with isolated(workdir / "cache"):
        for spec in SPECS:
            print(f"== {spec.kind}", file=sys.stderr)
            kinds[spec.kind] = run_spec(spec, workdir / "runs" / spec.kind)
            if spec.fixture:
                kept = keep_fixture(workdir / "runs" / spec.kind, RUNS / spec.kind)
                print(f"kept {RUNS / spec.kind}: {', '.join(kept)}", file=sys.stderr)
        (workdir / "old").mkdir()
        for spec in SPECS:
            if spec.fixture:
                print(f"== old run folder {spec.kind}", file=sys.stderr)
                old_runs[spec.kind] = check_old_run(spec.kind, workdir / "old")
    return {
        "recorded_with": {"vaelab_commit": code_version(), "torch": torch.__version__,
                          "python": platform.python_version(), "machine": platform.machine(),
                          "threads": 1, "device": "cpu"},
        "kinds": kinds,
        "old_runs": old_runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing baseline.json and runs/ (only on purpose)")
    args = parser.parse_args(argv)
    if (BASELINE.exists() or RUNS.exists()) and not args.force:
        print(f"{BASELINE} or {RUNS} exists: they record the code before a change; pass --force "
              "to replace them on purpose", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vaelab-baseline-") as tmp:
        baseline = record(Path(tmp))
    BASELINE.write_text(json.dumps(baseline, indent=1) + "\n")
    print(f"wrote {BASELINE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
