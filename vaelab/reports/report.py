"""Build the report of one or several run folders and write it as one HTML file."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from vaelab import __version__
from vaelab.reports.blocks import Section
from vaelab.reports.context import DEFAULT_EXAMPLES, RunContext, load_context
from vaelab.reports.page import Part, render_page
from vaelab.reports.sections import comparison_sections, run_sections
from vaelab.training.checkpoint import atomic_write_text

REPORT_HTML = "report.html"


def run_part(run: RunContext, index: int) -> Part:
    """Every registered run section that has something to show for this run."""
    sections = [s for s in (build(run) for build in run_sections()) if s is not None]
    return Part(f"run{index + 1}", f"Run {index + 1}: {run.name}", tuple(sections),
                subtitle=str(run.run_dir.resolve()))


def comparison_part(runs: Sequence[RunContext]) -> Part:
    """The registered comparison sections over all runs."""
    sections: list[Section] = [s for s in (build(runs) for build in comparison_sections())
                               if s is not None]
    return Part("comparison", f"Comparison of {len(runs)} runs", tuple(sections))


def render_report(runs: Sequence[RunContext]) -> str:
    """The HTML page for already loaded runs: comparison first (several runs), then each run."""
    if not runs:
        raise ValueError("a report needs at least one run folder")
    parts = ([comparison_part(runs)] if len(runs) > 1 else []) + [
        run_part(run, i) for i, run in enumerate(runs)]
    title = f"vaelab report: {runs[0].name}" if len(runs) == 1 else f"vaelab report: {len(runs)} runs"
    footer = (f"Written by vaelab {__version__} on {time.strftime('%Y-%m-%d %H:%M')}. Latent "
              f"statistics and pictures use the first {runs[0].x_test.shape[0]} test images "
              f"of each run; report seed {runs[0].seed}.")
    return render_page(title, parts, footer)


def report_path(run_dirs: Sequence[Path], out: Path | None = None) -> Path:
    """Where the report goes: `out` (a file, or a folder to hold report.html), else the first run."""
    if out is None:
        return Path(run_dirs[0]) / REPORT_HTML
    out = Path(out)
    return out / REPORT_HTML if out.is_dir() else out


def write_report(run_dirs: Sequence[Path | str], out: Path | None = None, device: str = "cpu",
                 examples: int = DEFAULT_EXAMPLES, seed: int = 0) -> Path:
    """Load each run folder, render the report and write it; returns the file's path."""
    if not run_dirs:
        raise ValueError("a report needs at least one run folder")
    paths = [Path(p) for p in run_dirs]
    target = report_path(paths, out)
    if out is not None and not target.parent.is_dir():
        raise ValueError(f"cannot write {target}: folder {target.parent} does not exist")
    runs = [load_context(p, device=device, examples=examples, seed=seed) for p in paths]
    atomic_write_text(target, render_report(runs))
    return target
