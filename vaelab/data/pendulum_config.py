"""The settings of the simulated pendulum data set: physics, force, rendering, noise, splits, seed.

Kept apart from the simulator so that configs and the command line can read and validate them
without loading numpy or torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

from vaelab.choices import FORCE_MODES
from vaelab.choices import PENDULUM as PENDULUM
from vaelab.data.errors import DataError
from vaelab.settings import Help, OneOf, Range, build, check, declared

if TYPE_CHECKING:
    from vaelab.data.pendulum_physics import Physics

SPLITS: Final = ("train", "valid", "test")


@dataclass(frozen=True)
class PendulumConfig:
    """Everything that determines the simulated data; validated on construction.

    Physics (g, L, b), the external force, integration (dt, RK4 substeps), rendering, noise,
    dropped frames, split sizes and the seed. Saved with every cache file and every run. Each
    field's help is the command line's (`vaelab simulate`, `--pendulum KEY=VALUE`).
    """

    gravity: Annotated[float, Range(0, open_low=True), Help("g, m/s²")] = 9.81
    length: Annotated[float, Range(0, open_low=True), Help("L, m (the dynamics depend on g/L)")] = 1.0
    damping: Annotated[float, Range(0, 100), Help("b, 1/s: θ̈ = −(g/L) sin θ − b θ̇ + u(t)")] = 0.1
    force: Annotated[str, OneOf(FORCE_MODES), Help(
        "the external torque u(t): none, random (smooth random steps) or sine")] = "random"
    max_torque: Annotated[float, Range(0, 100), Help("largest |u(t)|, rad/s²")] = 2.0
    dt: Annotated[float, Range(0, 1, open_low=True, note="seconds"), Help("seconds between frames")] = 0.05
    substeps: Annotated[int, Range(1, 10_000), Help("RK4 steps per frame")] = 10
    max_initial_speed: Annotated[float, Range(0, 100, note="rad/s"), Help(
        "initial |ω| drawn uniformly up to this, rad/s")] = 2.0
    image_size: Annotated[int, Range(8, 256, note="pixels"), Help("frame side, pixels")] = 32
    pixel_noise: Annotated[float, Range(0, 1), Help(
        "standard deviation of Gaussian pixel noise, in [0, 1] intensity units")] = 0.0
    process_noise: Annotated[float, Range(0, 100), Help(
        "standard deviation of random kicks to ω per second")] = 0.0
    drop_probability: Annotated[float, Range(0, 1, open_high=True), Help(
        "chance that a frame is dropped (blank, no likelihood term)")] = 0.0
    train_sequences: Annotated[int, Range(1, 1_000_000), Help("training sequences")] = 2000
    train_length: Annotated[int, Range(1, 100_000, note="frames"), Help(
        "frames per training sequence")] = 50
    valid_sequences: Annotated[int, Range(0, 1_000_000), Help("validation sequences")] = 200
    valid_length: Annotated[int, Range(1, 100_000, note="frames"), Help(
        "frames per validation sequence")] = 50
    test_sequences: Annotated[int, Range(1, 1_000_000), Help("test sequences")] = 500
    test_length: Annotated[int, Range(1, 100_000, note="frames"), Help(
        "frames per test sequence (longer than training: prediction beyond it)")] = 100
    seed: Annotated[int, Range(0), Help("seed of the simulation (each split has its own stream)")] = 0
    torque_applied: Annotated[bool, Help(
        "whether the recorded torque drives the pendulum (off: it is sampled and recorded but never "
        "applied, a negative control for causal claims)")] = True

    def __post_init__(self) -> None:
        check(self, "pendulum", DataError)

    @property
    def physics(self) -> Physics:
        from vaelab.data.pendulum_physics import Physics

        return Physics(self.gravity, self.length, self.damping)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> PendulumConfig:
        """Build from a dict; unknown keys are errors naming the allowed ones."""
        return build(PendulumConfig, raw, "pendulum", DataError)

    def digest(self) -> str:
        """A short hash of every field: the cache file's name."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_setting(key: str, text: str) -> Any:
    """The value of PendulumConfig field `key` from text (a `KEY=VALUE` flag or a simulate option):
    numbers as numbers, booleans from true/false, yes/no, on/off, 1/0. ValueError names the field."""
    settings = declared(PendulumConfig)
    if key not in settings:
        raise ValueError(f"pendulum: unknown setting {key!r}; known: {', '.join(settings)}")
    kind = settings[key].hint.__name__
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
