"""The registries of vaelab's components and their built-in entries: names only, no torch.

Each registry maps a name a config or a flag may hold to the class implementing it, written as
"module:attribute" and imported the first time a model is built with it (see vaelab.registry for
why). `vaelab.choices` derives its tuples of names from these registries, in this order; the
builders look a name up here and never branch on it. Adding a built-in component = its class
(with `name = "..."` and the hook its registry asks for, below) + one line here.

Registry (names in choices.py): what an entry provides
- priors (PRIORS): `from_spec(PriorSpec)` -> an nn.Module returning p(z)
- guide_families (GUIDE_FAMILIES): a GuideFamily built as `cls()`, or `cls(K)` for a flow of K
  steps named "iaf:K" (`takes_steps`); `num_params(d)` sizes the encoder, η -> q(z | x)
- likelihoods (FAMILIES): `from_options(fixed_scale)` -> a Family for p(x | z); a mixture named
  "logistic-mixture:K" (`takes_components`) as `from_options(fixed_scale, components=K)`
- objectives (OBJECTIVES): `cls(samples)`, called as objective(model, x, kl_weight)
- architectures (ARCHITECTURES): `networks(...)` -> a frame VAE's encoder and decoder, or
  `build(config, data_shape)` -> the whole model (a deep hierarchy)
- inference (INFERENCE): `assemble(...)` -> a hierarchical VAE with its guide
- transitions (TRANSITIONS): `from_config(SSMConfig, dt, action_dim)` -> p(z_t | z_{t−1}, u_t)
- ssm_guides (GUIDES, after "auto"): `direction`, `frame_wise`: how the SSM guide summarises
- combiners (COMBINERS): `from_config(...)` -> q(z_t | z_{t−1}, h_t)
- ssm_architectures (SSM_ARCHITECTURES): `decoder(...)`, `encoder(...)`: an SSM's frame networks
"""

from __future__ import annotations

from typing import Any, Final

from vaelab.registry import Registry, catalog

priors: Final[Registry[Any]] = catalog("prior", {
    "normal": "vaelab.distributions.prior:StandardNormalPrior",
    "mog": "vaelab.distributions.learned_priors:MixtureOfGaussiansPrior",
    "vamp": "vaelab.distributions.learned_priors:VampPrior",
}, "a prior p(z): a class with `name` and `from_spec(PriorSpec)` returning an nn.Module whose "
   "forward(encoder) gives a Distribution with batch () and event (latent_dim,)")

guide_families: Final[Registry[Any]] = catalog("guide family", {
    "diagonal": "vaelab.distributions.guide_families:DiagonalGaussianGuide",
    "full": "vaelab.distributions.guide_families:FullCovarianceGaussianGuide",
    "planar": "vaelab.distributions.flow_guides:PlanarFlowGuide",
    "iaf": "vaelab.distributions.flow_guides:IAFGuide",
    "spline": "vaelab.distributions.flow_guides:SplineFlowGuide",
}, "a guide family: a GuideFamily class with `name`, built with no arguments (or with its number "
   "of steps K when it declares `takes_steps`, named NAME:K), whose num_params(latent_dim) sizes "
   "the encoder's output and which maps it to q(z | x)")

#: the built-in guide families named with a number of steps, "planar:K" (their classes declare
#: `takes_steps = True`; a family registered from Python is asked directly)
STEPPED_GUIDE_FAMILIES: Final = frozenset({"planar", "iaf", "spline"})


def guide_family_takes_steps(name: str) -> bool:
    """Whether the registered guide family `name` is named with a number of steps, NAME:K."""
    entry = guide_families.target(name)
    return name in STEPPED_GUIDE_FAMILIES if isinstance(entry, str) else bool(
        getattr(entry, "takes_steps", False))


#: the built-in guide families that cannot score z with stopped parameters (no inverse: planar);
#: their classes declare `scores_stopped = False` (a family registered from Python is asked)
UNSTOPPABLE_GUIDE_FAMILIES: Final = frozenset({"planar"})
#: the built-in objectives whose guide gradient scores z with stopped parameters (STL, DReG);
#: their classes declare `stop_guide_gradient = True` or `gradient` "stl" / "dreg"
STOPPED_GRADIENT_OBJECTIVES: Final = frozenset({"elbo-stl", "iwae-stl", "iwae-dreg"})


def stopped_gradient_problem(posterior: str, objective: str) -> str | None:
    """Why the guide family `posterior` ("planar:4") cannot be trained with `objective`, or None:
    an objective that scores z with stopped guide parameters (STL, DReG) needs a guide that can
    (a planar flow has no inverse). Unknown names are left to their own checks (None)."""
    name = posterior.partition(":")[0] if isinstance(posterior, str) else posterior
    if name not in guide_families or objective not in objectives:
        return None
    family, loss = guide_families.target(name), objectives.target(objective)
    unstoppable = (name in UNSTOPPABLE_GUIDE_FAMILIES if isinstance(family, str)
                   else not getattr(family, "scores_stopped", True))
    stopped = (objective in STOPPED_GRADIENT_OBJECTIVES if isinstance(loss, str)
               else bool(getattr(loss, "stop_guide_gradient", False))
               or getattr(loss, "gradient", "standard") != "standard")
    if unstoppable and stopped:
        return (f"the objective {objective!r} scores z with stopped guide parameters, which the guide "
                f"family {posterior!r} cannot do (a planar flow has no inverse): use elbo or iwae, or "
                "an iaf:K / spline:K guide")
    return None


def guide_family_names() -> str:
    """The guide families as a config names them: "diagonal, full, planar:K, iaf:K, spline:K"."""
    return ", ".join(f"{n}:K" if guide_family_takes_steps(n) else n for n in guide_families)


def parse_guide_family(spec: str) -> tuple[str, int | None]:
    """(name, K) from a guide family as a config names it: ("iaf", 4) from "iaf:4", ("full", None)
    from "full". An unknown name, a missing, extra or non-integer K, or K < 1 is one ValueError."""
    name, colon, steps = spec.partition(":") if isinstance(spec, str) else (spec, "", "")
    if not isinstance(name, str) or name not in guide_families:
        raise ValueError(f"unknown guide family {spec!r}; choose one of {guide_family_names()}")
    if not guide_family_takes_steps(name):
        if colon:
            raise ValueError(f"guide family {name!r} takes no number of steps, got {spec!r}")
        return name, None
    if not colon:
        raise ValueError(f"guide family {name!r} needs its number of steps: {name}:K with K >= 1, "
                         f"e.g. {name}:4")
    if not steps.strip().isdigit() or int(steps) < 1:
        raise ValueError(f"guide family {spec!r}: the number of steps K must be an integer >= 1")
    return name, int(steps)


def guide_family_problem(spec: object) -> str | None:
    """What is wrong with a config's guide family name (parse_guide_family), or None."""
    try:
        parse_guide_family(spec)  # type: ignore[arg-type]
    except ValueError as error:
        return str(error)
    return None

likelihoods: Final[Registry[Any]] = catalog("likelihood", {
    "bernoulli": "vaelab.distributions.families:BernoulliFamily",
    "gaussian": "vaelab.distributions.families:GaussianFamily",
    "gaussian-fixed": "vaelab.distributions.families:FixedScaleGaussianFamily",
    "logistic8": "vaelab.distributions.families:DiscretizedLogisticFamily",
    "logistic-mixture": "vaelab.distributions.families:DiscretizedLogisticMixtureFamily",
}, "a likelihood family p(x | z): a Family class with `name` and `from_options(fixed_scale)` (and, "
   "when it declares `takes_components`, named NAME or NAME:K, `from_options(fixed_scale, "
   "components=K)`)")

#: the built-in likelihoods that may be named with a number of mixture components, NAME:K (their
#: classes declare `takes_components = True`; a family registered from Python is asked directly)
MIXTURE_LIKELIHOODS: Final = frozenset({"logistic-mixture"})


def likelihood_takes_components(name: str) -> bool:
    """Whether the registered likelihood `name` may be named with a number of components, NAME:K."""
    entry = likelihoods.target(name)
    return name in MIXTURE_LIKELIHOODS if isinstance(entry, str) else bool(
        getattr(entry, "takes_components", False))


def likelihood_names() -> str:
    """The likelihoods as a config names them: "bernoulli, ..., logistic8, logistic-mixture[:K]"."""
    return ", ".join(f"{n}[:K]" if likelihood_takes_components(n) else n for n in likelihoods)


def parse_likelihood(spec: str) -> tuple[str, int | None]:
    """(name, K) from a likelihood as a config names it: ("logistic-mixture", 5) from
    "logistic-mixture:5", ("logistic-mixture", None) from "logistic-mixture" (the family's default
    K), ("bernoulli", None) from "bernoulli". An unknown name, a K on a family that takes none, or
    a K that is not an integer >= 1 is one ValueError."""
    name, colon, count = spec.partition(":") if isinstance(spec, str) else (spec, "", "")
    if not isinstance(name, str) or name not in likelihoods:
        raise ValueError(f"unknown likelihood {spec!r}; choose one of {likelihood_names()}")
    if not colon:
        return name, None
    if not likelihood_takes_components(name):
        raise ValueError(f"likelihood {name!r} takes no number of components, got {spec!r}")
    if not count.strip().isdigit() or int(count) < 1:
        raise ValueError(f"likelihood {spec!r}: the number of mixture components K must be an "
                         "integer >= 1")
    return name, int(count)


def likelihood_problem(spec: object) -> str | None:
    """What is wrong with a config's likelihood name (parse_likelihood), or None."""
    try:
        parse_likelihood(spec)  # type: ignore[arg-type]
    except ValueError as error:
        return str(error)
    return None

objectives: Final[Registry[Any]] = catalog("objective", {
    "elbo": "vaelab.objectives.registry:ELBOObjective",
    "elbo-stl": "vaelab.objectives.registry:STLELBOObjective",
    "iwae": "vaelab.objectives.registry:IWAEObjective",
    "iwae-dreg": "vaelab.objectives.registry:DReGIWAEObjective",
    "iwae-stl": "vaelab.objectives.registry:STLIWAEObjective",
}, "a training objective: a class with `name`, built as cls(samples), called as "
   "objective(model, x, kl_weight) -> ObjectiveValue")

architectures: Final[Registry[Any]] = catalog("architecture", {
    "mlp": "vaelab.models.architectures:MLPArchitecture",
    "conv": "vaelab.models.architectures:ConvArchitecture",
    "deep": "vaelab.models.deep_networks:DeepArchitecture",
    "deep-conv": "vaelab.models.deep_conv:DeepConvArchitecture",
}, "a frame-model architecture: a class with `name` and `networks(config, data_shape, "
   "encoder_out, params_per_element, in_scale)` -> (encoder network, decoder network)")

inference: Final[Registry[Any]] = catalog("inference", {
    "bottom-up": "vaelab.models.inference:BottomUpInference",
    "top-down": "vaelab.models.inference:TopDownInference",
    "residual": "vaelab.models.inference:ResidualTopDownInference",
}, "how a hierarchical VAE's guide runs: a class with `name` and `assemble(...)`")

#: the physics rules: one transition class (the pendulum integrator) under three hypotheses
PHYSICS_RULES: Final = ("pendulum", "undamped", "small-angle")
_PENDULUM = "vaelab.models.transitions:PendulumTransition"

transitions: Final[Registry[Any]] = catalog("transition", {
    **dict.fromkeys(PHYSICS_RULES, _PENDULUM),
    "generic": "vaelab.models.transitions:GatedTransition",
    "none": "vaelab.models.transitions:IndependentTransition",
}, "a state-space transition p(z_t | z_{t−1}, u_t): an nn.Module class with `name` (or `names`) "
   "and `from_config(config, dt, action_dim)`; `learned_initial_state` says whether p(z_1) is learned")

ssm_guides: Final[Registry[Any]] = catalog("guide", {
    "filter": "vaelab.models.ssm_guide:FilteringGuide",
    "smooth": "vaelab.models.ssm_guide:SmoothingGuide",
    "frame": "vaelab.models.ssm_guide:FrameWiseGuide",
}, "a state-space guide: a class with `name`, the summary's `direction` and `frame_wise`")

combiners: Final[Registry[Any]] = catalog("combiner", {
    "fusion": "vaelab.models.ssm_guide:FusionCombiner",
    "gated": "vaelab.models.ssm_guide:GatedCombiner",
    "frame": "vaelab.models.ssm_guide:FrameCombiner",
}, "a combiner q(z_t | z_{t−1}, h_t): an nn.Module class with `name` and "
   "`from_config(config, summarizer, dt, readout, skip)`")

ssm_architectures: Final[Registry[Any]] = catalog("architecture", {
    "keypoint": "vaelab.models.architectures:KeypointFrames",
    "mlp": "vaelab.models.architectures:MLPFrames",
    "conv": "vaelab.models.architectures:ConvFrames",
}, "a state-space model's frame networks: a class with `name`, `decoder(...)` and `encoder(...)`")

#: every registry, by the name this module gives it
REGISTRIES: Final[dict[str, Registry[Any]]] = {
    "priors": priors, "guide_families": guide_families, "likelihoods": likelihoods,
    "objectives": objectives, "architectures": architectures, "inference": inference,
    "transitions": transitions, "ssm_guides": ssm_guides, "combiners": combiners,
    "ssm_architectures": ssm_architectures,
}

__all__ = [
    "MIXTURE_LIKELIHOODS",
    "PHYSICS_RULES",
    "REGISTRIES",
    "STEPPED_GUIDE_FAMILIES",
    "architectures",
    "combiners",
    "guide_families",
    "guide_family_names",
    "guide_family_problem",
    "guide_family_takes_steps",
    "inference",
    "likelihood_names",
    "likelihood_problem",
    "likelihood_takes_components",
    "likelihoods",
    "objectives",
    "parse_guide_family",
    "parse_likelihood",
    "priors",
    "ssm_architectures",
    "ssm_guides",
    "transitions",
]
