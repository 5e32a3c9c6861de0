"""Typed configs for data and training, composed with the model's into one experiment config.

Each validates itself on construction and names the bad field with its allowed range. The
experiment config is saved with every run so the run can be rebuilt, resumed and evaluated.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vaelab.atomic_files import atomic_write_text
from vaelab.choices import BINARIZATIONS, OBJECTIVES, PRECISIONS
from vaelab.choices import LR_SCHEDULES as LR_SCHEDULES
from vaelab.models.model_config import ModelConfig
from vaelab.training.config_files import MAX_EPOCHS, ConfigError, build_sections, read_config_file


def learning_rate_at(schedule: str, base: float, epoch: int, seconds: float = 0.0,
                     epochs: int = 0, budget_minutes: float = 0.0,
                     final_fraction: float = 0.01) -> float:
    """The learning rate for a 0-based epoch under a named schedule.

    `seconds` is the training time spent before this epoch; "cosine" uses it with `epochs` and
    `budget_minutes` (0 = no time budget) to know how far along the run is, so a time-limited
    run reaches its low rates before the budget runs out. The other schedules ignore them.
    """
    if schedule == "constant":
        return base
    if schedule == "cosine":
        progress = epoch / max(1, epochs)
        if budget_minutes > 0:
            progress = max(progress, seconds / (60.0 * budget_minutes))
        progress = min(1.0, progress)
        return base * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))
    stage, first_epoch_of_next = 0, 1
    while epoch >= first_epoch_of_next and stage < 7:
        stage += 1
        first_epoch_of_next += 3**stage
    return base * 10.0 ** (-stage / 7.0)


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{name}: {message}")


@dataclass(frozen=True)
class DataConfig:
    """Which data, where to find it, and how to fit it to the likelihood.

    `stream` leaves a `.npy` file or an image folder on disk and reads it a batch at a time
    (memory stays flat as the data grow), with `workers` DataLoader processes reading and
    decoding ahead (0: in the training process); otherwise the images are read into memory once,
    as uint8. `image_shape` and `found_in` are written by training, not by the user: the [C, H, W] shape the
    model was built for (so a run folder rebuilds its model without its data: sampling,
    reconstructing or classifying given images work on any machine) and the folder the dataset's
    files were read from (a hint for the error when a later evaluation cannot find them).
    """

    dataset: str = "mnist-5k"
    data_dir: str | None = None
    download: bool = True
    binarization: str = "auto"
    validation_size: int = 500
    image_size: int | None = None
    train_limit: int | None = None
    stream: bool = False
    workers: int = 0
    image_shape: tuple[int, ...] | None = None
    found_in: str | None = None

    def __post_init__(self) -> None:
        if self.image_shape is not None:
            object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
            _require(len(self.image_shape) == 3 and min(self.image_shape) >= 1, "data.image_shape",
                     f"must be [C, H, W] with positive sizes, got {list(self.image_shape)}")
        _require(bool(self.dataset), "data.dataset", "must name a dataset or a path")
        _require(self.binarization in BINARIZATIONS, "data.binarization",
                 f"{self.binarization!r} is not one of {', '.join(BINARIZATIONS)}")
        _require(self.validation_size >= 0, "data.validation_size",
                 f"must be >= 0, got {self.validation_size}")
        _require(self.image_size is None or 4 <= self.image_size <= 1024, "data.image_size",
                 f"must be in [4, 1024], got {self.image_size}")
        _require(self.train_limit is None or self.train_limit >= 1, "data.train_limit",
                 f"must be >= 1, got {self.train_limit}")
        _require(0 <= self.workers <= 256, "data.workers", f"must be in [0, 256], got {self.workers}")
        _require(self.stream or self.workers == 0, "data.workers",
                 "DataLoader workers read batches only when streaming: set data.stream (--stream) too")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and evaluation settings: Adam, KL warm-up, clipping, early stopping."""

    objective: str = "elbo"
    samples: int = 1
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    kl_warmup_steps: int = 0
    grad_clip: float = 0.0
    patience: int = 0
    seed: int = 0
    device: str = "auto"
    eval_samples: int = 1000
    eval_examples: int = 1000
    lr_schedule: str = "constant"
    final_lr_fraction: float = 0.01
    time_budget_minutes: float = 0.0
    compile: bool = False
    precision: str = "fp32"

    def __post_init__(self) -> None:
        _require(self.objective in OBJECTIVES, "train.objective",
                 f"{self.objective!r} is not one of {', '.join(OBJECTIVES)}")
        _require(1 <= self.samples <= 10_000, "train.samples", f"must be in [1, 10000], got {self.samples}")
        _require(0 <= self.epochs <= MAX_EPOCHS, "train.epochs",
                 f"must be in [0, {MAX_EPOCHS}], got {self.epochs}")
        _require(1 <= self.batch_size <= 65_536, "train.batch_size",
                 f"must be in [1, 65536], got {self.batch_size}")
        _require(0 < self.learning_rate <= 1.0, "train.learning_rate",
                 f"must be in (0, 1], got {self.learning_rate}")
        _require(self.kl_warmup_steps >= 0, "train.kl_warmup_steps",
                 f"must be >= 0, got {self.kl_warmup_steps}")
        _require(self.grad_clip >= 0, "train.grad_clip", f"must be >= 0 (0 = off), got {self.grad_clip}")
        _require(self.patience >= 0, "train.patience", f"must be >= 0 (0 = off), got {self.patience}")
        _require(self.device in ("auto", "cpu") or self.device.startswith("cuda"), "train.device",
                 f"must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        _require(1 <= self.eval_samples <= 1_000_000, "train.eval_samples",
                 f"must be in [1, 1000000], got {self.eval_samples}")
        _require(self.lr_schedule in LR_SCHEDULES, "train.lr_schedule",
                 f"{self.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}")
        _require(0 < self.final_lr_fraction <= 1, "train.final_lr_fraction",
                 f"must be in (0, 1], got {self.final_lr_fraction}")
        _require(self.time_budget_minutes >= 0, "train.time_budget_minutes",
                 f"must be >= 0 (0 = no limit), got {self.time_budget_minutes}")
        _require(self.precision in PRECISIONS, "train.precision",
                 f"{self.precision!r} is not one of {', '.join(PRECISIONS)}")
        _require(self.eval_examples >= 0, "train.eval_examples",
                 f"must be >= 0 (0 = whole test set), got {self.eval_examples}")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything needed to rebuild a run: model, data and training configs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> ExperimentConfig:
        """Build from nested dicts; unknown sections or keys are errors, not silently ignored."""
        sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
        return ExperimentConfig(**build_sections(raw, sections))

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> ExperimentConfig:
        """A copy with some fields replaced, e.g. {"train": {"epochs": 3}}; validated again."""
        merged = self.to_dict()
        for section, values in overrides.items():
            merged.setdefault(section, {}).update(values)
        return ExperimentConfig.from_dict(merged)

    def save(self, path: Path) -> None:
        """Write the config atomically (ranks of a distributed job may read it meanwhile)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @staticmethod
    def load(path: Path) -> ExperimentConfig:
        """Read a JSON or TOML config file."""
        return ExperimentConfig.from_dict(read_config_file(path))


__all__ = ["LR_SCHEDULES", "ConfigError", "DataConfig", "ExperimentConfig", "TrainConfig",
           "learning_rate_at"]
