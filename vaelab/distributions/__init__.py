"""Distribution families, the prior and KL: everything speaks `torch.distributions`."""

from vaelab.distributions.discretized_logistic import DiscretizedLogistic, discretized_logistic_mixture
from vaelab.distributions.families import (
    FAMILIES,
    BernoulliFamily,
    DiscretizedLogisticFamily,
    DiscretizedLogisticMixtureFamily,
    Family,
    FixedScaleGaussianFamily,
    GaussianFamily,
    bits_per_dim,
    make_family,
)
from vaelab.distributions.flow_guides import IAFGuide, PlanarFlowGuide, SplineFlowGuide
from vaelab.distributions.flows import FlowPosterior, PlanarTransform
from vaelab.distributions.guide_families import (
    GUIDE_FAMILIES,
    DiagonalGaussianGuide,
    FullCovarianceGaussianGuide,
    GuideFamily,
    make_guide_family,
)
from vaelab.distributions.kl import kl_or_estimate
from vaelab.distributions.prior import Prior, PriorSpec, StandardNormalPrior

__all__ = [
    "FAMILIES",
    "GUIDE_FAMILIES",
    "BernoulliFamily",
    "DiagonalGaussianGuide",
    "DiscretizedLogistic",
    "DiscretizedLogisticFamily",
    "DiscretizedLogisticMixtureFamily",
    "Family",
    "FixedScaleGaussianFamily",
    "FlowPosterior",
    "FullCovarianceGaussianGuide",
    "GaussianFamily",
    "GuideFamily",
    "IAFGuide",
    "PlanarFlowGuide",
    "PlanarTransform",
    "Prior",
    "PriorSpec",
    "SplineFlowGuide",
    "StandardNormalPrior",
    "bits_per_dim",
    "discretized_logistic_mixture",
    "kl_or_estimate",
    "make_family",
    "make_guide_family",
]
