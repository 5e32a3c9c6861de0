"""The names of vaelab's built-in choices: what a config key or a flag may be set to.

One module that imports nothing heavy, so the command line can list every choice (and
`vaelab --help` or a mistyped flag answers at once) without loading torch. The names of
components (priors, guide families, likelihoods, objectives, architectures, state-space parts)
come from their registries in vaelab.components, in registration order: adding a component there
adds its name here. The tuples are the built-in names as of import; config validation asks the
registries themselves, so a component registered later from Python is accepted too.
"""

from __future__ import annotations

from typing import Final

from vaelab import components
from vaelab.components import PHYSICS_RULES as PHYSICS_RULES

#: the seed of every evaluation's random draws (importance samples, particles, pictures) unless
#: `vaelab evaluate --seed` says otherwise: training's final evaluation uses it too, whatever the
#: training seed, so that it and a later `vaelab evaluate RUN` of the same weights, k and examples
#: give the same figures
EVALUATION_SEED: Final = 0
#: data sets by name (files are looked up, verified and, when online, downloaded)
EMBEDDED_NAME: Final = "mnist-5k"
DATASET_NAMES: Final[tuple[str, ...]] = (EMBEDDED_NAME, "mnist", "binarized-mnist", "fashion-mnist")
"""The built-in data sets by name (files are looked up, verified and, when online, downloaded)."""
#: how grey pixels meet a Bernoulli likelihood
BINARIZATIONS: Final = ("auto", "dynamic", "static", "none")
FAMILIES: Final = components.likelihoods.names()
"""Likelihood families p(x | z)."""
#: priors p(z)
PRIORS: Final = components.priors.names()
GUIDE_FAMILIES: Final = components.guide_families.names()
"""Guide families q(z | x) of a VAE's encoder."""
ARCHITECTURES: Final = components.architectures.names()
"""The networks of a VAE's encoder and decoder (`--architecture`); ACTIVATION_NAMES their nonlinearities."""
ACTIVATION_NAMES: Final = ("relu", "tanh", "elu", "gelu", "silu")
#: how the guide of a hierarchical model runs: bottom-up (Burda) or top-down (ladder VAE)
INFERENCE: Final = components.inference.names()
OBJECTIVES: Final = components.objectives.names()
"""Training objectives ("-stl" / "-dreg": lower-variance gradient estimators of the same bounds)."""
#: "burda": lr · 10^(−i/7) for 3^i epochs, i = 0..7 (Burda et al. 2016, 3,280 epochs in all);
#: "cosine": cosine decay from lr to final_lr_fraction · lr, paced by the epochs done or (with a
#: time budget) the share of the budget spent, whichever is further along; "step": lr, then
#: final_lr_fraction · lr from halfway through the run (paced as cosine)
LR_SCHEDULES: Final = ("constant", "burda", "cosine", "step")
#: numeric precision of the training step's forward pass
PRECISIONS: Final = ("fp32", "bf16")
DEFAULT_KS: Final = (1, 10, 100, 1000, 10000)
"""Sample counts of the estimator comparison."""
#: annealing steps of the rows of `vaelab evaluate RUN --bdmc N` (vaelab.evaluation.bdmc)
DEFAULT_BDMC_STEPS: Final = (10, 100, 1000)

#: the simulated sequence data set and its external forces
PENDULUM: Final = "pendulum"
FORCE_MODES: Final = ("none", "random", "sine")
#: state-space models: dynamics hypotheses (physics rules, a network, none) and guides ("auto":
#: resolved by SSMConfig from the transition)
TRANSITIONS: Final = components.transitions.names()
GUIDES: Final = ("auto", *components.ssm_guides.names())
COMBINERS: Final = components.combiners.names()
#: what an emitter reads of z (options of the one Emitter, not components)
READOUTS: Final = ("auto", "circle", "full")
#: the likelihoods of grey-level frames, the default first: a selection among FAMILIES (the
#: Bernoulli would not be a likelihood of grey data), checked against them by the tests
SSM_LIKELIHOODS: Final = ("gaussian-fixed", "gaussian", "logistic8")
SSM_ARCHITECTURES: Final = components.ssm_architectures.names()
