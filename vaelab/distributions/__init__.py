"""Distribution families, the prior and KL: everything speaks `torch.distributions`."""

from vaelab.distributions.discretized_logistic import DiscretizedLogistic
from vaelab.distributions.families import (
    FAMILIES,
    BernoulliFamily,
    DiscretizedLogisticFamily,
    Family,
    GaussianFamily,
    bits_per_dim,
    make_family,
)
from vaelab.distributions.kl import kl_or_estimate
from vaelab.distributions.prior import StandardNormalPrior

__all__ = [
    "FAMILIES",
    "BernoulliFamily",
    "DiscretizedLogistic",
    "DiscretizedLogisticFamily",
    "Family",
    "GaussianFamily",
    "StandardNormalPrior",
    "bits_per_dim",
    "kl_or_estimate",
    "make_family",
]
