"""Typed configs of a sequence run (state-space model, simulated data, training), saved with it.

Kept apart from the training code so configs and the command line can read and validate them
without loading torch. A sequence run's config.json says "kind": "ssm".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Final

from vaelab.atomic_files import atomic_write_text
from vaelab.choices import PENDULUM
from vaelab.data.pendulum_config import PendulumConfig
from vaelab.models.ssm_config import SSMConfig
from vaelab.settings import ConfigError, Help, OneOf, Range, check, require
from vaelab.training.config_files import Experiment, read_config_file, saved_config
from vaelab.training.train_settings import TrainSettings

KIND: Final = "ssm"
#: which torque the model is told drove each sequence: its own, or another sequence's (a placebo)
TORQUES: Final = ("recorded", "placebo")
#: where a fresh physics rule's constants start (SequenceTrainConfig.init_constants)
INIT_CONSTANTS: Final = ("least-squares", "fixed")
SEQUENCE_OBJECTIVES: Final = ("elbo", "iwae")
SEQUENCE_DATASETS: Final = (PENDULUM,)

@dataclass(frozen=True)
class SequenceDataConfig:
    """Which sequences: the dataset name, where to cache it, its simulation parameters, and which
    torque goes with each sequence ("placebo": another sequence's, the same exchange in every
    split, seeded by the simulation seed)."""

    dataset: Annotated[str, OneOf(SEQUENCE_DATASETS, "a sequence dataset")] = PENDULUM
    data_dir: str | None = None
    train_limit: Annotated[int | None, Range(1)] = None
    pendulum: PendulumConfig = field(default_factory=PendulumConfig)
    torque: Annotated[str, OneOf(TORQUES, "recorded: each sequence's own; placebo: another "
                                          "sequence's")] = "recorded"

    def __post_init__(self) -> None:
        check(self, "data")
        if isinstance(self.pendulum, dict):
            object.__setattr__(self, "pendulum", PendulumConfig.from_dict(self.pendulum))


@dataclass(frozen=True)
class SequenceTrainConfig(TrainSettings):
    """Optimisation for sequence models: Adam with cosine decay, KL warm-up, free bits, a budget.

    The shared settings (TrainSettings) start elsewhere for sequence models (the lines below);
    `time_budget_minutes` > 0 also paces the learning-rate decay by time as well as epochs.
    `window` > 0 trains on random windows of that many frames.
    `init_from` names a sequence run whose weights start this one (see `warm_start`); with
    `init_transition` its transition's too (to go on with one hypothesis under new settings, e.g.
    a tighter noise ceiling), otherwise the transition starts fresh. `init_constants`: where a fresh
    physics rule's constants start, at its "fixed" guesses or at the "least-squares" fit on its
    guide's first state estimates (vaelab.kinds.ssm_constants; new runs default to it, runs
    saved without the field keep "fixed"). `compile` and `precision`
    are the speed switches of vaelab.training.fast_path (the training step only; validation and
    every reported bound stay eager float32). Runs saved before the shared names say `minutes`
    and `eval_sequences` (RENAMED).
    """

    RENAMED: ClassVar[dict[str, str]] = {"minutes": "time_budget_minutes",
                                         "eval_sequences": "eval_examples"}

    objective: Annotated[str, OneOf(SEQUENCE_OBJECTIVES)] = "elbo"
    samples: Annotated[int, Range(1, 1000)] = 1
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    final_lr_fraction: float = 0.05
    grad_clip: float = 50.0
    eval_samples: Annotated[int, Range(1, 100_000)] = 100
    eval_examples: int = 100
    dynamics_lr_factor: Annotated[float, Range(0, 1000, open_low=True)] = 10.0
    free_bits: Annotated[float, Range(0), Help("free bits per step and latent dimension (nats)")] = 0.0
    window: Annotated[int, Range(0), Help("train on random windows of this many frames (0 = whole)")] = 25
    init_from: Annotated[str | None, Help(
        "start from a sequence run's weights (every tensor whose name and shape match, except the "
        "transition's own): test another rule with the same observation model", metavar="RUN")] = None
    init_transition: Annotated[bool, Help(
        "with --init-from, copy the transition too: go on with the same hypothesis under new "
        "settings (e.g. a tighter --noise-ceiling)", negatable=True)] = False
    init_constants: Annotated[str, OneOf(INIT_CONSTANTS), Help(
        "where a fresh physics rule's g/L, b and input gain start: the least-squares fit on the "
        "guide's first state estimates, or fixed guesses (g/L 5, b 0.5, gain 0)")] = "least-squares"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.window != 1, "train", "window",
                f"must be 0 (whole sequences) or >= 2 frames, got {self.window}")
        require(self.init_from is not None or not self.init_transition, "train", "init_transition",
                "copies the transition of the run named by train.init_from, and none is named")


@dataclass(frozen=True)
class SequenceExperiment(Experiment):
    """Everything needed to rebuild a sequence run: model, data and training configs."""

    KIND: ClassVar[str | None] = KIND

    model: SSMConfig = field(default_factory=SSMConfig)
    data: SequenceDataConfig = field(default_factory=SequenceDataConfig)
    train: SequenceTrainConfig = field(default_factory=SequenceTrainConfig)

    def save(self, path: Path) -> None:
        """Write the config with the guide resolved ("auto" becomes the guide built), so the run
        rebuilds the same model whatever a later version resolves "auto" to."""
        raw = self.to_dict()
        raw["model"]["guide"] = self.model.resolved_guide()
        atomic_write_text(Path(path), json.dumps(raw, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> SequenceExperiment:
        raw = read_config_file(path)
        if raw.get("kind") != KIND:
            raise ConfigError(f"{path}: is not a sequence-model config")
        train = raw.get("train")
        if isinstance(train, dict) and "init_constants" not in train:  # saved before the field
            raw = {**raw, "train": {**train, "init_constants": "fixed"}}
        return SequenceExperiment.from_dict(raw)


def is_sequence_run(run_dir: Path | str) -> bool:
    """Whether `run_dir` holds a state-space-model run (its config says "kind": "ssm")."""
    return (saved_config(run_dir) or {}).get("kind") == KIND
