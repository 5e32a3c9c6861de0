"""Typed configs for data and training, composed with the model's into one experiment config.

Each validates itself on construction and names the bad field with its allowed range. The
experiment config is saved with every run so the run can be rebuilt, resumed and evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated

from vaelab import components
from vaelab.choices import BINARIZATIONS, DATASET_NAMES
from vaelab.choices import LR_SCHEDULES as LR_SCHEDULES
from vaelab.models.model_config import ModelConfig
from vaelab.settings import Help, NonEmpty, OneOf, Range, check, require
from vaelab.training.config_files import ConfigError, Experiment
from vaelab.training.train_settings import TrainSettings


def learning_rate_at(schedule: str, base: float, epoch: int, seconds: float = 0.0,
                     epochs: int = 0, budget_minutes: float = 0.0,
                     final_fraction: float = 0.01) -> float:
    """The learning rate for a 0-based epoch under a named schedule.

    `seconds` is the training time spent before this epoch; "cosine" uses it with `epochs` and
    `budget_minutes` (0 = no time budget) to know how far along the run is, so a time-limited
    run reaches its low rates before the budget runs out; "step" paces its one cut the same way.
    The other schedules ignore them.
    """
    if schedule == "constant":
        return base
    if schedule in ("cosine", "step"):
        progress = epoch / max(1, epochs)
        if budget_minutes > 0:
            progress = max(progress, seconds / (60.0 * budget_minutes))
        progress = min(1.0, progress)
        if schedule == "step":
            return base * (final_fraction if progress >= 0.5 else 1.0)
        return base * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))
    stage, first_epoch_of_next = 0, 1
    while epoch >= first_epoch_of_next and stage < 7:
        stage += 1
        first_epoch_of_next += 3**stage
    return base * 10.0 ** (-stage / 7.0)


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

    dataset: Annotated[str, NonEmpty("a dataset name or a path"), Help(
        f"{', '.join(DATASET_NAMES)}, or a folder of images / .npy / .npz file")] = "mnist-5k"
    data_dir: Annotated[str | None, Help("folder holding dataset files (also $VAELAB_DATA)")] = None
    download: bool = True
    binarization: Annotated[str, OneOf(BINARIZATIONS), Help(
        "how grey pixels meet a Bernoulli likelihood: dynamic (resampled each epoch), static (once, "
        "seeded), none (refuse); auto = dynamic for the built-in datasets, none for your own data")] = "auto"
    validation_size: Annotated[int, Range(0), Help("examples held out for validation")] = 500
    image_size: Annotated[int | None, Range(4, 1024), Help(
        "resize user images to this square size")] = None
    train_limit: Annotated[int | None, Range(1), Help("use only the first N training examples")] = None
    stream: Annotated[bool, Help(
        "leave a .npy file or an image folder on disk and read it a batch at a time (for data "
        "larger than memory); otherwise it is read into memory once, as uint8")] = False
    workers: Annotated[int, Range(0, 256), Help(
        "with --stream: DataLoader processes reading and decoding batches ahead (0 = in the "
        "training process)", metavar="N")] = 0
    image_shape: Annotated[tuple[int, ...] | None, Range(1)] = None
    found_in: str | None = None

    def __post_init__(self) -> None:
        check(self, "data")
        require(self.image_shape is None or len(self.image_shape) == 3, "data", "image_shape",
                f"must be [C, H, W] with positive sizes, got {list(self.image_shape or ())}")
        require(self.stream or self.workers == 0, "data", "workers",
                "DataLoader workers read batches only when streaming: set data.stream (--stream) too")


@dataclass(frozen=True)
class TrainConfig(TrainSettings):
    """Optimisation and evaluation of a frame model: the shared settings (TrainSettings), early
    stopping and a learning-rate schedule."""

    patience: Annotated[int, Range(0, note="0 = off"), Help(
        "early stopping patience in epochs (0 = off)")] = 0
    lr_schedule: Annotated[str, OneOf(LR_SCHEDULES), Help(
        "burda = lr·10^(−i/7) for 3^i epochs (Burda et al. 2016); cosine = decay to "
        "--final-lr-fraction·lr over the epochs or the --time-budget, whichever runs out first; "
        "step = lr, then --final-lr-fraction·lr from halfway through them")] = "constant"
    free_bits: Annotated[float, Range(0, note="0 = off"), Help(
        "free bits λ (Kingma et al. 2016): the ELBO's loss keeps the batch-mean KL of each latent "
        "group (the latent vector; each layer of a hierarchy) at or above λ nats, max(λ, KL); the "
        "reported bound is unchanged (0 = off)")] = 0.0
    kl_balance: Annotated[bool, Help(
        "while the KL is warmed up (--kl-warmup), weight each latent group's KL by its share of the "
        "total (NVAE's KL balancing), so no group of a hierarchy collapses early")] = False


@dataclass(frozen=True)
class ExperimentConfig(Experiment):
    """Everything needed to rebuild a run: model, data and training configs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        problem = components.stopped_gradient_problem(self.model.posterior, self.train.objective)
        require(problem is None, "train", "objective", problem or "")


__all__ = ["LR_SCHEDULES", "ConfigError", "DataConfig", "ExperimentConfig", "TrainConfig",
           "TrainSettings", "learning_rate_at"]
