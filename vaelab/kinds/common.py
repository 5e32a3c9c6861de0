"""What every kind's commands share: the run-folder listing, arrays out, TensorBoard during training.

Neutral ground for the kinds (no kind imports another for these), kept light: torch and the
training code load only inside the functions that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaelab.training.config_files import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from vaelab.training.config import ExperimentConfig

#: RUN/tensorboard: where `--tensorboard` writes its event files
TENSORBOARD_DIR = "tensorboard"


def print_run_folder(run_dir: Path) -> None:
    """Print where a run lives and the files it holds."""
    run_dir = Path(run_dir)
    print(f"run folder: {run_dir.resolve()}")
    for name in sorted(p.name + ("/" if p.is_dir() else "") for p in run_dir.iterdir()):
        print(f"  {name}")


def save_npy(path: Path | None, array: np.ndarray) -> None:
    """Write `array` to `path` (an --npy option) and say so; nothing when `path` is None."""
    if path is None:
        return
    import numpy as np

    np.save(path, array)
    print(f"wrote {path}")


def tensorboard_callback(config: ExperimentConfig, run_dir: Path) -> Any:
    """A TensorBoard logger for RUN/tensorboard; ConfigError at once when tensorboard is absent."""
    from vaelab.reports.tensorboard import TensorBoardLogger, summary_writer_class
    from vaelab.training.experiment import data_kind_of, load_splits

    try:
        summary_writer_class()
    except ImportError as error:
        raise ConfigError(f"--tensorboard: {error}") from error
    splits = load_splits(config.data, data_kind_of(config), config.train.seed)
    return TensorBoardLogger(Path(run_dir) / TENSORBOARD_DIR, splits, seed=config.train.seed)


__all__ = ["TENSORBOARD_DIR", "print_run_folder", "save_npy", "tensorboard_callback"]
