"""What rebuilds a trained model from its run folder, as evaluation and reports receive it.

Rebuilding a run needs its kind's config, builder and data, which sit above evaluation and
reports; so they take the loader as an argument instead of importing it: each kind's `load`
(`vaelab.kinds.KindModule.load`) is one, and `vaelab.kinds.kind_of_run(run_dir).module().load`
is the one for any run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class RunLoader(Protocol):
    """load(run_dir, best=True, device="cpu", data=True, data_dir=None) -> (model in eval mode,
    config, data splits): best weights when present; with `data=False` from the run folder
    alone (splits may then be None); `data_dir`: where the run's data are now, when they moved."""

    def __call__(self, run_dir: Path, best: bool = True, device: str = "cpu", data: bool = True,
                 data_dir: str | None = None) -> tuple[Any, Any, Any]: ...


__all__ = ["RunLoader"]
