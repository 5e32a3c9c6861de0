"""Build the report of one or several run folders and write it as one HTML file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from vaelab import __version__
from vaelab.atomic_files import atomic_write_text
from vaelab.evaluation.progress import Advance, ignore, progress_bar
from vaelab.reports.blocks import Section
from vaelab.reports.context import DEFAULT_EXAMPLES, RunContext, load_context
from vaelab.reports.page import Part, render_page
from vaelab.reports.sections import comparison_sections, run_sections
from vaelab.runs.files import CONFIG
from vaelab.runs.loader import RunLoader
from vaelab.runs.metrics_log import read_metrics

REPORT_HTML = "report.html"
"""The report's file name in a run folder (`vaelab report RUN`)."""


def _built(builds: Sequence[Callable[..., Section | None]], argument: object,
           advance: Advance) -> list[Section]:
    sections = []
    for build in builds:
        section = build(argument)
        advance(1)
        if section is not None:
            sections.append(section)
    return sections


def run_part(run: RunContext, index: int, advance: Advance = ignore) -> Part:
    """Every registered run section that has something to show for this run (`advance(1)`
    after each section is built)."""
    sections = _built(run_sections(), run, advance)
    return Part(f"run{index + 1}", f"Run {index + 1}: {run.name}", tuple(sections),
                subtitle=str(run.run_dir.resolve()))


def comparison_part(runs: Sequence[RunContext], advance: Advance = ignore) -> Part:
    """The registered comparison sections over all runs."""
    sections = _built(comparison_sections(), runs, advance)
    return Part("comparison", f"Comparison of {len(runs)} runs", tuple(sections))


def _section_count(runs: int) -> int:
    return runs * len(run_sections()) + (len(comparison_sections()) if runs > 1 else 0)


def render_report(runs: Sequence[RunContext], progress: bool | None = None,
                  advance: Advance | None = None) -> str:
    """The HTML page for already loaded runs: comparison first (several runs), then each run.
    A bar counts the sections built (`progress`; None: only when stderr is a terminal), or
    `advance` is called after each when the caller keeps its own bar."""
    if not runs:
        raise ValueError("a report needs at least one run folder")
    if advance is None:
        with progress_bar(_section_count(len(runs)), "report", progress, "sections") as own:
            return render_report(runs, advance=own)
    parts = ([comparison_part(runs, advance)] if len(runs) > 1 else []) + [
        run_part(run, i, advance) for i, run in enumerate(runs)]
    title = f"vaelab report: {runs[0].name}" if len(runs) == 1 else f"vaelab report: {len(runs)} runs"
    footer = (f"Written by vaelab {__version__} on {time.strftime('%Y-%m-%d %H:%M')}. Latent "
              f"statistics and pictures use the first {runs[0].x_test.shape[0]} test images "
              f"of each run; report seed {runs[0].seed}.")
    return render_page(title, parts, footer)


def report_path(run_dirs: Sequence[Path], out: Path | None = None) -> Path:
    """Where the report goes: `out` (a file, or a folder to hold report.html), else the run's
    report.html, or for several runs compare-<the others' names>.html in the first one's folder
    (its own report.html is left alone)."""
    if out is None:
        first = Path(run_dirs[0])
        if len(run_dirs) == 1:
            return first / REPORT_HTML
        others = "-".join(Path(p).resolve().name for p in run_dirs[1:])
        return first / f"compare-{others}.html"
    out = Path(out)
    return out / REPORT_HTML if out.is_dir() else out


def report_target(run_dirs: Sequence[Path | str], out: Path | None) -> tuple[list[Path], Path]:
    """The run folders as paths and the file the report goes to; ValueError for no runs or an
    `out` in a folder that does not exist."""
    if not run_dirs:
        raise ValueError("a report needs at least one run folder")
    paths = [Path(p) for p in run_dirs]
    target = report_path(paths, out)
    if out is not None and not target.parent.is_dir():
        raise ValueError(f"cannot write {target}: folder {target.parent} does not exist")
    return paths, target


def write_report(run_dirs: Sequence[Path | str], load: RunLoader, out: Path | None = None,
                 device: str = "cpu", examples: int = DEFAULT_EXAMPLES, seed: int = 0,
                 progress: bool | None = None, data_dir: str | None = None) -> Path:
    """Load each run folder with `load` (its kind's loader; `vaelab.kinds.load_run` for runs of
    any kind), render the report and write it; returns the file's path. A bar counts the runs
    loaded and the sections built (`progress`; None: only when stderr is a terminal).
    `data_dir`: where the runs' data are now, when they moved."""
    paths, target = report_target(run_dirs, out)
    total = len(paths) + _section_count(len(paths))
    with progress_bar(total, "report", progress, "steps") as advance:
        runs = []
        for p in paths:
            runs.append(load_context(p, load, device=device, examples=examples, seed=seed,
                                     data_dir=data_dir))
            advance(1)
        page = render_report(runs, advance=advance)
    atomic_write_text(target, page)
    return target


def write_model_report(model: torch.nn.Module, run_dir: Path | str, test: Any, out: Path | None = None,
                       k: int = 1000, examples: int = DEFAULT_EXAMPLES, seed: int = 0,
                       progress: bool | None = None) -> Path:
    """The report of a model you built and trained with `vaelab.fit`: the run folder's config and
    learning curves, and — computed here on the test data you pass (a tensor, an array, a
    Dataset or an ImageSet, as `vaelab.evaluate` takes) — the ELBO and IS log p(x) with k samples,
    samples, reconstructions and the latent space. Written to RUN/report.html unless `out`; the
    evaluation is kept among the run's (RUN/evaluations/), as `vaelab.evaluate(..., run_dir=)` keeps it."""
    from vaelab.data.imageset import ImageSet
    from vaelab.evaluation.evaluate_model import evaluate, held_out_examples, keep_evaluation
    from vaelab.runs.evaluations import EVALUATIONS_DIR

    run_dir = Path(run_dir)
    target = report_path([run_dir], out)
    device = next(model.parameters()).device
    x_test = held_out_examples(model, test, examples if examples > 0 else None, device)
    labels = test.labels if isinstance(test, ImageSet) else None
    result = evaluate(model, x_test, k=k, seed=seed)
    kept = keep_evaluation(model, run_dir, {"k": k, "examples": result["examples"], "seed": seed,
                                            "by": "vaelab.report"}, result)  # nothing computed is lost
    entry = {"id": kept, "k": k, "examples": result["examples"], "test": result,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "file": f"{EVALUATIONS_DIR}/{kept}.json"}
    described = json.loads((run_dir / CONFIG).read_text()) if (run_dir / CONFIG).is_file() else {}
    run = RunContext(run_dir=run_dir, model=model.eval(), config=None, splits=None,
                     records=read_metrics(run_dir),
                     metrics={"test": result, "evaluations": {"latest": entry, "strongest": entry,
                                                              "all": [entry]}},
                     estimators=None, examples=examples, seed=seed, description=described,
                     given_x_test=x_test, given_labels=labels)
    with progress_bar(_section_count(1), "report", progress, "steps") as advance:
        page = render_report([run], advance=advance)
    atomic_write_text(target, page)
    return target
