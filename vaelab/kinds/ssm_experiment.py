"""Typed configs of a sequence run (state-space model, simulated data, training), saved with it.

Kept apart from the training code so configs and the command line can read and validate them
without loading torch. A sequence run's config.json says "kind": "ssm".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from vaelab.atomic_files import atomic_write_text
from vaelab.choices import PENDULUM, PRECISIONS
from vaelab.data.pendulum_config import PendulumConfig
from vaelab.models.ssm_config import SSMConfig
from vaelab.runs.files import CONFIG
from vaelab.training.config_files import MAX_EPOCHS, ConfigError, build_sections, read_config_file

KIND: Final = "ssm"
#: which torque the model is told drove each sequence: its own, or another sequence's (a placebo)
TORQUES: Final = ("recorded", "placebo")
#: where a fresh physics rule's constants start (SequenceTrainConfig.init_constants)
INIT_CONSTANTS: Final = ("least-squares", "fixed")
SEQUENCE_OBJECTIVES: Final = ("elbo", "iwae")
SEQUENCE_DATASETS: Final = (PENDULUM,)

def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{name}: {message}")


@dataclass(frozen=True)
class SequenceDataConfig:
    """Which sequences: the dataset name, where to cache it, its simulation parameters, and which
    torque goes with each sequence ("placebo": another sequence's, the same exchange in every
    split, seeded by the simulation seed)."""

    dataset: str = PENDULUM
    data_dir: str | None = None
    train_limit: int | None = None
    pendulum: PendulumConfig = field(default_factory=PendulumConfig)
    torque: str = "recorded"

    def __post_init__(self) -> None:
        _require(self.dataset in SEQUENCE_DATASETS, "data.dataset",
                 f"{self.dataset!r} is not a sequence dataset; choose one of {', '.join(SEQUENCE_DATASETS)}")
        _require(self.train_limit is None or self.train_limit >= 1, "data.train_limit",
                 f"must be >= 1, got {self.train_limit}")
        _require(self.torque in TORQUES, "data.torque",
                 f"{self.torque!r} is not one of {', '.join(TORQUES)} (recorded: each sequence's own; "
                 "placebo: another sequence's)")
        if isinstance(self.pendulum, dict):
            object.__setattr__(self, "pendulum", PendulumConfig.from_dict(self.pendulum))


@dataclass(frozen=True)
class SequenceTrainConfig:
    """Optimisation for sequence models: Adam with cosine decay, KL warm-up, free bits, a budget.

    `minutes` > 0 stops training when that much time is spent (and paces the learning-rate decay
    by time as well as epochs); `window` > 0 trains on random windows of that many frames.
    `init_from` names a sequence run whose weights start this one (see `warm_start`); with
    `init_transition` its transition's too (to go on with one hypothesis under new settings, e.g.
    a tighter noise ceiling), otherwise the transition starts fresh. `init_constants`: where a fresh
    physics rule's constants start, at its "fixed" guesses or at the "least-squares" fit on its
    guide's first state estimates (vaelab.kinds.ssm_constants; new runs default to it, runs
    saved without the field keep "fixed"). `compile` and `precision`
    are the speed switches of vaelab.training.fast_path (the training step only; validation and
    every reported bound stay eager float32).
    """

    objective: str = "elbo"
    samples: int = 1
    epochs: int = 30
    minutes: float = 0.0
    batch_size: int = 64
    learning_rate: float = 2e-3
    dynamics_lr_factor: float = 10.0
    final_lr_fraction: float = 0.05
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    grad_clip: float = 50.0
    window: int = 25
    seed: int = 0
    device: str = "auto"
    eval_samples: int = 100
    eval_sequences: int = 100
    init_from: str | None = None
    init_transition: bool = False
    init_constants: str = "least-squares"
    compile: bool = False
    precision: str = "fp32"

    def __post_init__(self) -> None:
        _require(self.objective in SEQUENCE_OBJECTIVES, "train.objective",
                 f"{self.objective!r} is not one of {', '.join(SEQUENCE_OBJECTIVES)}")
        _require(1 <= self.samples <= 1000, "train.samples", f"must be in [1, 1000], got {self.samples}")
        _require(0 <= self.epochs <= MAX_EPOCHS, "train.epochs",
                 f"must be in [0, {MAX_EPOCHS}], got {self.epochs}")
        _require(self.minutes >= 0, "train.minutes", f"must be >= 0 (0 = no time budget), got {self.minutes}")
        _require(1 <= self.batch_size <= 65_536, "train.batch_size",
                 f"must be in [1, 65536], got {self.batch_size}")
        _require(0 < self.learning_rate <= 1, "train.learning_rate",
                 f"must be in (0, 1], got {self.learning_rate}")
        _require(0 < self.dynamics_lr_factor <= 1000, "train.dynamics_lr_factor",
                 f"must be in (0, 1000], got {self.dynamics_lr_factor}")
        _require(0 < self.final_lr_fraction <= 1, "train.final_lr_fraction",
                 f"must be in (0, 1], got {self.final_lr_fraction}")
        _require(self.kl_warmup_steps >= 0, "train.kl_warmup_steps",
                 f"must be >= 0, got {self.kl_warmup_steps}")
        _require(self.free_bits >= 0, "train.free_bits", f"must be >= 0 nats, got {self.free_bits}")
        _require(self.grad_clip >= 0, "train.grad_clip", f"must be >= 0 (0 = off), got {self.grad_clip}")
        _require(self.window == 0 or self.window >= 2, "train.window",
                 f"must be 0 (whole sequences) or >= 2 frames, got {self.window}")
        _require(self.device in ("auto", "cpu") or self.device.startswith("cuda"), "train.device",
                 f"must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        _require(1 <= self.eval_samples <= 100_000, "train.eval_samples",
                 f"must be in [1, 100000], got {self.eval_samples}")
        _require(self.eval_sequences >= 0, "train.eval_sequences",
                 f"must be >= 0 (0 = whole test split), got {self.eval_sequences}")
        _require(self.precision in PRECISIONS, "train.precision",
                 f"{self.precision!r} is not one of {', '.join(PRECISIONS)}")
        _require(self.init_constants in INIT_CONSTANTS, "train.init_constants",
                 f"{self.init_constants!r} is not one of {', '.join(INIT_CONSTANTS)}")
        _require(self.init_from is not None or not self.init_transition, "train.init_transition",
                 "copies the transition of the run named by train.init_from, and none is named")


@dataclass(frozen=True)
class SequenceExperiment:
    """Everything needed to rebuild a sequence run: model, data and training configs."""

    model: SSMConfig = field(default_factory=SSMConfig)
    data: SequenceDataConfig = field(default_factory=SequenceDataConfig)
    train: SequenceTrainConfig = field(default_factory=SequenceTrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, **asdict(self)}

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> SequenceExperiment:
        """Build from nested dicts; unknown sections or keys are errors naming the allowed ones."""
        raw = {k: v for k, v in raw.items() if k != "kind"}
        sections = {"model": SSMConfig, "data": SequenceDataConfig, "train": SequenceTrainConfig}
        return SequenceExperiment(**build_sections(raw, sections))

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> SequenceExperiment:
        """A copy with some fields replaced, e.g. {"train": {"epochs": 3}}; validated again.
        The data section may override simulation fields through {"data": {"pendulum": {...}}}."""
        merged = asdict(self)
        for section, values in overrides.items():
            for key, value in values.items():
                if key == "pendulum" and isinstance(value, dict):
                    merged[section]["pendulum"].update(value)
                else:
                    merged.setdefault(section, {})[key] = value
        return SequenceExperiment.from_dict(merged)

    def save(self, path: Path) -> None:
        """Write the config with the guide resolved ("auto" becomes the guide built), so the run
        rebuilds the same model whatever a later version resolves "auto" to."""
        raw = self.to_dict()
        raw["model"]["guide"] = self.model.resolved_guide()
        atomic_write_text(Path(path), json.dumps(raw, indent=2) + "\n")

    @staticmethod
    def load(path: Path) -> SequenceExperiment:
        raw = read_config_file(path)
        _require(raw.get("kind") == KIND, str(path), "is not a sequence-model config")
        train = raw.get("train")
        if isinstance(train, dict) and "init_constants" not in train:  # saved before the field
            raw = {**raw, "train": {**train, "init_constants": "fixed"}}
        return SequenceExperiment.from_dict(raw)


def is_sequence_run(run_dir: Path | str) -> bool:
    """Whether `run_dir` holds a state-space-model run (its config says "kind": "ssm")."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("kind") == KIND
    except (json.JSONDecodeError, AttributeError):
        return False
