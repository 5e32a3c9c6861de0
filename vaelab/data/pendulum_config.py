"""The settings of the simulated pendulum data set: physics, force, rendering, noise, splits, seed.

Kept apart from the simulator so that configs and the command line can read and validate them
without loading numpy or torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Final

from vaelab.choices import FORCE_MODES
from vaelab.choices import PENDULUM as PENDULUM
from vaelab.data.errors import DataError

if TYPE_CHECKING:
    from vaelab.data.pendulum_physics import Physics

SPLITS: Final = ("train", "valid", "test")


#: what each setting means (the command line's help for `vaelab simulate` and `--pendulum KEY=VALUE`)
PENDULUM_HELP: Final[dict[str, str]] = {
    "gravity": "g, m/s²",
    "length": "L, m (the dynamics depend on g/L)",
    "damping": "b, 1/s: θ̈ = −(g/L) sin θ − b θ̇ + u(t)",
    "force": "the external torque u(t): none, random (smooth random steps) or sine",
    "max_torque": "largest |u(t)|, rad/s²",
    "dt": "seconds between frames",
    "substeps": "RK4 steps per frame",
    "max_initial_speed": "initial |ω| drawn uniformly up to this, rad/s",
    "image_size": "frame side, pixels",
    "pixel_noise": "standard deviation of Gaussian pixel noise, in [0, 1] intensity units",
    "process_noise": "standard deviation of random kicks to ω per second",
    "drop_probability": "chance that a frame is dropped (blank, no likelihood term)",
    "train_sequences": "training sequences",
    "train_length": "frames per training sequence",
    "valid_sequences": "validation sequences",
    "valid_length": "frames per validation sequence",
    "test_sequences": "test sequences",
    "test_length": "frames per test sequence (longer than training: prediction beyond it)",
    "seed": "seed of the simulation (each split has its own stream)",
    "torque_applied": "whether the recorded torque drives the pendulum (off: it is sampled and recorded "
                      "but never applied, a negative control for causal claims)",
}


def _require(ok: bool, name: str, allowed: str, got: object) -> None:
    if not ok:
        raise DataError(f"pendulum.{name}: must be {allowed}, got {got!r}")


@dataclass(frozen=True)
class PendulumConfig:
    """Everything that determines the simulated data; validated on construction.

    Physics (g, L, b), the external force, integration (dt, RK4 substeps), rendering, noise,
    dropped frames, split sizes and the seed. Saved with every cache file and every run.
    """

    gravity: float = 9.81
    length: float = 1.0
    damping: float = 0.1
    force: str = "random"
    max_torque: float = 2.0
    dt: float = 0.05
    substeps: int = 10
    max_initial_speed: float = 2.0
    image_size: int = 32
    pixel_noise: float = 0.0
    process_noise: float = 0.0
    drop_probability: float = 0.0
    train_sequences: int = 2000
    train_length: int = 50
    valid_sequences: int = 200
    valid_length: int = 50
    test_sequences: int = 500
    test_length: int = 100
    seed: int = 0
    torque_applied: bool = True

    def __post_init__(self) -> None:
        _require(self.gravity > 0, "gravity", "> 0", self.gravity)
        _require(self.length > 0, "length", "> 0", self.length)
        _require(0 <= self.damping <= 100, "damping", "in [0, 100]", self.damping)
        _require(self.force in FORCE_MODES, "force", f"one of {', '.join(FORCE_MODES)}", self.force)
        _require(0 <= self.max_torque <= 100, "max_torque", "in [0, 100]", self.max_torque)
        _require(0 < self.dt <= 1, "dt", "in (0, 1] seconds", self.dt)
        _require(1 <= self.substeps <= 10_000, "substeps", "in [1, 10000]", self.substeps)
        _require(0 <= self.max_initial_speed <= 100, "max_initial_speed", "in [0, 100] rad/s",
                 self.max_initial_speed)
        _require(8 <= self.image_size <= 256, "image_size", "in [8, 256] pixels", self.image_size)
        _require(0 <= self.pixel_noise <= 1, "pixel_noise", "in [0, 1]", self.pixel_noise)
        _require(0 <= self.process_noise <= 100, "process_noise", "in [0, 100]", self.process_noise)
        _require(0 <= self.drop_probability < 1, "drop_probability", "in [0, 1)",
                 self.drop_probability)
        for split in SPLITS:
            count, steps = getattr(self, f"{split}_sequences"), getattr(self, f"{split}_length")
            minimum = 0 if split == "valid" else 1
            _require(minimum <= count <= 1_000_000, f"{split}_sequences",
                     f"in [{minimum}, 1000000]", count)
            _require(1 <= steps <= 100_000, f"{split}_length", "in [1, 100000] frames", steps)
        _require(self.seed >= 0, "seed", ">= 0", self.seed)

    @property
    def physics(self) -> Physics:
        from vaelab.data.pendulum_physics import Physics

        return Physics(self.gravity, self.length, self.damping)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> PendulumConfig:
        """Build from a dict; unknown keys are errors naming the allowed ones."""
        allowed = {f.name for f in fields(PendulumConfig)}
        bad = set(raw) - allowed
        if bad:
            raise DataError(f"pendulum: unknown key(s) {sorted(bad)}; allowed: {sorted(allowed)}")
        return PendulumConfig(**raw)

    def digest(self) -> str:
        """A short hash of every field: the cache file's name."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_setting(key: str, text: str) -> Any:
    """The value of PendulumConfig field `key` from text (a `KEY=VALUE` flag or a simulate option):
    numbers as numbers, booleans from true/false, yes/no, on/off, 1/0. ValueError names the field."""
    kinds = {f.name: str(f.type) for f in fields(PendulumConfig)}
    if key not in kinds:
        raise ValueError(f"pendulum: unknown setting {key!r}; known: {', '.join(kinds)}")
    kind = kinds[key]
    if kind == "bool":
        words = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}
        if text.lower() not in words:
            raise ValueError(f"pendulum.{key}: expected true or false, got {text!r}")
        return words[text.lower()]
    try:
        return {"float": float, "int": int, "str": str}[kind](text)
    except ValueError as error:
        raise ValueError(f"pendulum.{key}: expected {kind}, got {text!r}") from error
