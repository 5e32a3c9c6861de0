"""A state-space model's typed config: the transition (the hypothesis), guide, networks, likelihood.

Kept apart from the model (vaelab.models.ssm) so configs and the command line can read and
validate it without loading torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from vaelab import components
from vaelab.choices import (
    ACTIVATION_NAMES,
    GUIDES,
    PHYSICS_RULES,
    READOUTS,
    SSM_LIKELIHOODS,
)
from vaelab.choices import COMBINERS as COMBINERS
from vaelab.choices import SSM_ARCHITECTURES as SSM_ARCHITECTURES
from vaelab.choices import TRANSITIONS as TRANSITIONS
from vaelab.settings import Help, NonEmpty, OneOf, Range, Registered, build, check, require

#: how the filtering guide measures velocity (SSMConfig.velocity_difference)
VELOCITY_DIFFERENCES = ("first-order", "second-order")


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

    transition: Annotated[str, Registered(components.transitions), Help(
        "the hypothesis: pendulum physics, undamped physics, small-angle physics, a generic "
        "network, or none (a frame-wise VAE)")] = "pendulum"
    latent_dim: Annotated[int, Range(1, 256)] = 3
    guide: Annotated[str, OneOf(GUIDES), Help(
        "filter (forward RNN), smooth (backward RNN: its velocity is a central difference, which "
        "keeps the learned constants unbiased), frame (transition none); auto = smooth for physics "
        "rules, filter for generic, frame for none")] = "auto"
    combiner: Annotated[str, Registered(components.combiners)] = "fusion"
    readout: Annotated[str, OneOf(READOUTS)] = "auto"
    architecture: Annotated[str, Registered(components.ssm_architectures)] = "keypoint"
    encoder_hidden: Annotated[tuple[int, ...], NonEmpty("at least one width"), Range(1)] = (256, 128)
    rnn_hidden: Annotated[int, Range(1, 8192)] = 128
    combiner_hidden: Annotated[int, Range(1, 8192)] = 64
    transition_hidden: Annotated[int, Range(1, 8192)] = 64
    decoder_hidden: Annotated[tuple[int, ...], NonEmpty("at least one width"), Range(1)] = (128, 256)
    activation: Annotated[str, OneOf(ACTIVATION_NAMES)] = "relu"
    likelihood: Annotated[str, OneOf(SSM_LIKELIHOODS, "grey frames: a Bernoulli likelihood would not "
                                                      "be a likelihood of the data")] = "gaussian-fixed"
    fixed_scale: Annotated[float, Range(0, open_low=True)] = 0.1
    substeps: Annotated[int, Range(1, 100)] = 2
    velocity_correction: Annotated[bool, Help(
        "let the guide learn a correction to its finite-difference velocity (off by default: it "
        "co-adapts with the physics and biases g/L)", negatable=True)] = False
    noise_ceiling: Annotated[tuple[float, ...] | None, Range(0, 10, open_low=True), Help(
        "largest process-noise σ per latent dimension (physics: cos θ, sin θ, ω), the same for "
        "every rule compared by evidence, e.g. --noise-ceiling 0.003 0.003 0.01", nargs="+",
        metavar="SIGMA")] = None
    driven: bool = True
    velocity_difference: Annotated[str, OneOf(VELOCITY_DIFFERENCES)] = "first-order"

    def __post_init__(self) -> None:
        check(self, "model")
        require(self.transition not in PHYSICS_RULES or self.latent_dim == 3, "model", "latent_dim",
                f"physics transitions use z = (cos θ, sin θ, ω): latent_dim must be 3, got {self.latent_dim}")
        require((self.resolved_guide() == "frame") == (self.transition == "none"), "model", "guide",
                "the frame-wise guide goes with transition 'none' and only with it")
        require((self.combiner == "frame") == (self.resolved_guide() == "frame"), "model", "combiner",
                "the 'frame' combiner goes with the frame-wise guide and only with it")
        require(self.resolved_readout() != "circle" or self.latent_dim >= 2, "model", "readout",
                "'circle' needs latent_dim >= 2")
        require(self.transition not in PHYSICS_RULES or self.resolved_readout() == "circle", "model",
                "readout", "physics transitions emit from the angle alone: readout must be 'circle' or "
                "'auto'")
        require(self.velocity_difference == "first-order" or self.resolved_guide() == "filter", "model",
                "velocity_difference", "'second-order' is how the filtering guide measures velocity: "
                "use it with guide 'filter'")
        if self.noise_ceiling is not None:
            require(self.transition in (*PHYSICS_RULES, "generic"), "model", "noise_ceiling",
                    f"only physics and generic transitions learn process noise, not {self.transition!r}")
            require(len(self.noise_ceiling) == self.latent_dim, "model", "noise_ceiling",
                    f"need {self.latent_dim} values in (0, 10] (one σ per latent dimension), "
                    f"got {self.noise_ceiling}")

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
        return build(SSMConfig, raw, "model")
