"""The names of vaelab's built-in choices: what a config key or a flag may be set to.

One module that imports nothing heavy, so the command line can list every choice (and
`vaelab --help` or a mistyped flag answers at once) without loading torch. Each module that
implements a choice imports its names from here: one source of truth.
"""

from __future__ import annotations

from typing import Final

#: the seed of every evaluation's random draws (importance samples, particles, pictures) unless
#: `vaelab evaluate --seed` says otherwise: training's final evaluation uses it too, whatever the
#: training seed, so that it and a later `vaelab evaluate RUN` of the same weights, k and examples
#: give the same figures
EVALUATION_SEED: Final = 0
#: data sets by name (files are looked up, verified and, when online, downloaded)
EMBEDDED_NAME: Final = "mnist-5k"
DATASET_NAMES: Final[tuple[str, ...]] = (EMBEDDED_NAME, "mnist", "binarized-mnist", "fashion-mnist")
#: how grey pixels meet a Bernoulli likelihood
BINARIZATIONS: Final = ("auto", "dynamic", "static", "none")
#: likelihood families p(x | z)
FAMILIES: Final = ("bernoulli", "gaussian", "gaussian-fixed", "logistic8")
#: priors p(z)
PRIORS: Final = ("normal", "mog", "vamp")
#: frame-model networks and their nonlinearities
ARCHITECTURES: Final = ("mlp", "conv")
ACTIVATION_NAMES: Final = ("relu", "tanh", "elu", "gelu", "silu")
#: how the guide of a hierarchical model runs: bottom-up (Burda) or top-down (ladder VAE)
INFERENCE: Final = ("bottom-up", "top-down")
#: training objectives ("-stl" / "-dreg": lower-variance gradient estimators of the same bounds)
OBJECTIVES: Final = ("elbo", "elbo-stl", "iwae", "iwae-dreg", "iwae-stl")
#: "burda": lr · 10^(−i/7) for 3^i epochs, i = 0..7 (Burda et al. 2016, 3,280 epochs in all);
#: "cosine": cosine decay from lr to final_lr_fraction · lr, paced by the epochs done or (with a
#: time budget) the share of the budget spent, whichever is further along
LR_SCHEDULES: Final = ("constant", "burda", "cosine")
#: numeric precision of the training step's forward pass
PRECISIONS: Final = ("fp32", "bf16")
#: sample counts of the estimator comparison
DEFAULT_KS: Final = (1, 10, 100, 1000, 10000)

#: the simulated sequence data set and its external forces
PENDULUM: Final = "pendulum"
FORCE_MODES: Final = ("none", "random", "sine")
#: state-space models: dynamics hypotheses (physics rules, a network, none) and guides
PHYSICS_RULES: Final = ("pendulum", "undamped", "small-angle")
TRANSITIONS: Final = (*PHYSICS_RULES, "generic", "none")
GUIDES: Final = ("auto", "filter", "smooth", "frame")
COMBINERS: Final = ("fusion", "gated", "frame")
READOUTS: Final = ("auto", "circle", "full")
SSM_LIKELIHOODS: Final = ("gaussian-fixed", "gaussian", "logistic8")
SSM_ARCHITECTURES: Final = ("keypoint", "mlp", "conv")
