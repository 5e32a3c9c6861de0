"""`vaelab.report`: the HTML report of a model you built and trained with `vaelab.fit`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaelab.reports.context import DEFAULT_EXAMPLES
from vaelab.reports.report import write_model_report


def report(model: torch.nn.Module, run_dir: Path | str, test: Any, *, out: Path | str | None = None,
           k: int = 1000, examples: int = DEFAULT_EXAMPLES, seed: int = 0,
           progress: bool | None = None) -> Path:
    """Write the HTML report of `model` (trained by `vaelab.fit` into `run_dir`) on `test` data:
    the training curves from the run folder, and the test ELBO and importance-sampled log p(x)
    (k samples), samples, reconstructions, interpolations and the latent space computed here.
    Returns the path of the page (RUN/report.html unless `out`)."""
    if not Path(run_dir).is_dir():  # checked before the evaluation, not after it
        raise FileNotFoundError(f"{run_dir} is not a folder; pass the run_dir that vaelab.fit trained into")
    return write_model_report(model, run_dir, test, out=None if out is None else Path(out), k=k,
                              examples=examples, seed=seed, progress=progress)


__all__ = ["report"]
