"""A state-space model's typed config: the transition (the hypothesis), guide, networks, likelihood.

Kept apart from the model (vaelab.models.ssm) so configs and the command line can read and
validate it without loading torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from vaelab.choices import (
    ACTIVATION_NAMES,
    COMBINERS,
    GUIDES,
    PHYSICS_RULES,
    READOUTS,
    SSM_ARCHITECTURES,
    SSM_LIKELIHOODS,
    TRANSITIONS,
)

#: how the filtering guide measures velocity (SSMConfig.velocity_difference)
VELOCITY_DIFFERENCES = ("first-order", "second-order")


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"model.{name}: {message}")


@dataclass(frozen=True)
class SSMConfig:
    """A state-space model's shape: which transition (the hypothesis), guide, networks, likelihood.

    `transition`: "pendulum" | "undamped" | "small-angle" (physics in z = (cos θ, sin θ, ω),
    latent_dim 3), "generic" (DMM gated network) or "none" (frame-wise VAE). `readout` says what
    the emitter sees: "circle" = only the angle (z_1, z_2)/‖(z_1, z_2)‖, "full" = all of z,
    "auto" = circle for physics rules, full otherwise. `guide`: "filter" (forward GRU), "smooth"
    (backward GRU) or "frame" (per-frame encoder, only with transition "none"); "auto" becomes
    "smooth" for physics rules (its central-difference velocity holds no transition, so the ELBO
    cannot confirm a biased input gain through it; see FusionCombiner), "frame" for "none" and
    "filter" for the generic network; a run's saved config holds the resolved guide.
    `velocity_correction`: whether the fusion guide adds a learned correction to its
    finite-difference velocity measurement (physics rules only; see FusionCombiner).
    `noise_ceiling`: the largest process-noise σ per latent dimension the transition may learn
    (physics and generic rules; None = (0.01, 0.01, 0.1) for physics, no ceiling for generic).
    It is part of a hypothesis: "the state follows this rule up to noise ≤ σ". Comparing rules
    by evidence needs a ceiling tight enough that noise cannot stand in for a missing term
    (see bench/pendulum.py --evidence).
    `velocity_difference`: how the filtering guide measures the velocity from keypoint angles,
    "first-order" (the last interval's difference carried to time t with half the transition's
    predicted change) or "second-order" ((3θ_t − 4θ_{t−1} + θ_{t−2}) / 2dt, no transition in it,
    but 2.5× the keypoint noise: trained with it the damping collapses toward 0, see bench/README.md).
    `driven`: whether the recorded input u acts on the state (False: the hypothesis "no input",
    compared with the driven one by evidence to ask whether the force causes the motion).
    """

    transition: str = "pendulum"
    latent_dim: int = 3
    guide: str = "auto"
    combiner: str = "fusion"
    readout: str = "auto"
    architecture: str = "keypoint"
    encoder_hidden: tuple[int, ...] = (256, 128)
    rnn_hidden: int = 128
    combiner_hidden: int = 64
    transition_hidden: int = 64
    decoder_hidden: tuple[int, ...] = (128, 256)
    activation: str = "relu"
    likelihood: str = "gaussian-fixed"
    fixed_scale: float = 0.1
    substeps: int = 2
    velocity_correction: bool = False
    noise_ceiling: tuple[float, ...] | None = None
    driven: bool = True
    velocity_difference: str = "first-order"

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_hidden", tuple(int(h) for h in self.encoder_hidden))
        object.__setattr__(self, "decoder_hidden", tuple(int(h) for h in self.decoder_hidden))
        _require(self.transition in TRANSITIONS, "transition",
                 f"{self.transition!r} is not one of {', '.join(TRANSITIONS)}")
        _require(1 <= self.latent_dim <= 256, "latent_dim", f"must be in [1, 256], got {self.latent_dim}")
        _require(self.transition not in PHYSICS_RULES or self.latent_dim == 3, "latent_dim",
                 f"physics transitions use z = (cos θ, sin θ, ω): latent_dim must be 3, "
                 f"got {self.latent_dim}")
        _require(self.guide in GUIDES, "guide", f"{self.guide!r} is not one of {', '.join(GUIDES)}")
        _require((self.resolved_guide() == "frame") == (self.transition == "none"), "guide",
                 "the frame-wise guide goes with transition 'none' and only with it")
        _require(self.combiner in COMBINERS, "combiner",
                 f"{self.combiner!r} is not one of {', '.join(COMBINERS)}")
        _require((self.combiner == "frame") == (self.resolved_guide() == "frame"), "combiner",
                 "the 'frame' combiner goes with the frame-wise guide and only with it")
        _require(self.readout in READOUTS, "readout", f"{self.readout!r} is not one of {', '.join(READOUTS)}")
        _require(self.resolved_readout() != "circle" or self.latent_dim >= 2, "readout",
                 "'circle' needs latent_dim >= 2")
        _require(self.transition not in PHYSICS_RULES or self.resolved_readout() == "circle", "readout",
                 "physics transitions emit from the angle alone: readout must be 'circle' or 'auto'")
        _require(self.architecture in SSM_ARCHITECTURES, "architecture",
                 f"{self.architecture!r} is not one of {', '.join(SSM_ARCHITECTURES)}")
        _require(len(self.encoder_hidden) >= 1 and min(self.encoder_hidden) >= 1, "encoder_hidden",
                 f"need >= 1 positive widths, got {self.encoder_hidden}")
        _require(len(self.decoder_hidden) >= 1 and min(self.decoder_hidden) >= 1, "decoder_hidden",
                 f"need >= 1 positive widths, got {self.decoder_hidden}")
        for name in ("rnn_hidden", "combiner_hidden", "transition_hidden"):
            value = getattr(self, name)
            _require(1 <= value <= 8192, name, f"must be in [1, 8192], got {value}")
        _require(self.activation in ACTIVATION_NAMES, "activation",
                 f"{self.activation!r} is not one of {', '.join(ACTIVATION_NAMES)}")
        _require(self.likelihood in SSM_LIKELIHOODS, "likelihood",
                 f"{self.likelihood!r} is not one of {', '.join(SSM_LIKELIHOODS)} (grey frames: "
                 "a Bernoulli likelihood would not be a likelihood of the data)")
        _require(self.fixed_scale > 0, "fixed_scale", f"must be > 0, got {self.fixed_scale}")
        _require(self.velocity_difference in VELOCITY_DIFFERENCES, "velocity_difference",
                 f"{self.velocity_difference!r} is not one of {', '.join(VELOCITY_DIFFERENCES)}")
        _require(self.velocity_difference == "first-order" or self.resolved_guide() == "filter",
                 "velocity_difference", "'second-order' is how the filtering guide measures velocity: "
                 "use it with guide 'filter'")
        _require(1 <= self.substeps <= 100, "substeps", f"must be in [1, 100], got {self.substeps}")
        if self.noise_ceiling is not None:
            ceiling = tuple(float(v) for v in self.noise_ceiling)
            object.__setattr__(self, "noise_ceiling", ceiling)
            _require(self.transition in (*PHYSICS_RULES, "generic"), "noise_ceiling",
                     f"only physics and generic transitions learn process noise, not {self.transition!r}")
            _require(len(ceiling) == self.latent_dim and all(0 < v <= 10 for v in ceiling), "noise_ceiling",
                     f"need {self.latent_dim} values in (0, 10] (one σ per latent dimension), got {ceiling}")

    def resolved_guide(self) -> str:
        if self.guide != "auto":
            return self.guide
        if self.transition == "none":
            return "frame"
        return "smooth" if self.transition in PHYSICS_RULES else "filter"

    def resolved_readout(self) -> str:
        if self.readout != "auto":
            return self.readout
        return "circle" if self.transition in PHYSICS_RULES else "full"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> SSMConfig:
        allowed = {f.name for f in fields(SSMConfig)}
        bad = set(raw) - allowed
        _require(not bad, "config", f"unknown key(s) {sorted(bad)}; allowed: {sorted(allowed)}")
        return SSMConfig(**raw)
