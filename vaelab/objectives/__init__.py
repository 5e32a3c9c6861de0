"""Objectives and estimators over any latent-variable model: functions of (model, batch)."""

from vaelab.objectives.elbo import elbo
from vaelab.objectives.iwae import iwae_bound, log_importance_weights
from vaelab.objectives.marginal import (
    DEFAULT_SAMPLE_BUDGET,
    MarginalEstimate,
    importance_sampled_log_marginal,
    prior_monte_carlo_log_marginal,
    streaming_log_mean_exp,
)
from vaelab.objectives.registry import OBJECTIVES, make_objective
from vaelab.objectives.result import Estimate, ObjectiveValue
from vaelab.objectives.sequential import (
    sequence_log_weights,
    sequential_elbo,
    sequential_iwae_bound,
    sequential_log_marginal,
)
from vaelab.objectives.smc import smc_log_marginal

__all__ = [
    "DEFAULT_SAMPLE_BUDGET",
    "OBJECTIVES",
    "Estimate",
    "MarginalEstimate",
    "ObjectiveValue",
    "elbo",
    "importance_sampled_log_marginal",
    "iwae_bound",
    "log_importance_weights",
    "make_objective",
    "prior_monte_carlo_log_marginal",
    "sequence_log_weights",
    "sequential_elbo",
    "sequential_iwae_bound",
    "sequential_log_marginal",
    "smc_log_marginal",
    "streaming_log_mean_exp",
]
