"""A copy of a distribution whose parameters are cut from the autograd graph.

Evaluating log q(z | x) with detached parameters while z stays reparameterised removes the
score-function term from the gradient: the "sticking the landing" estimator (Roeder et al. 2017)
and the doubly reparameterised IWAE gradient (DReG, Tucker et al. 2019) are built on it.
"""

from __future__ import annotations

from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)


def detach_parameters(dist: Distribution) -> Distribution:
    """The same distribution with detached parameters (Normal, Independent, mixtures thereof, a
    full-covariance Normal, or a distribution that offers `with_stopped_parameters()`: a flow
    posterior, vaelab.distributions.flows)."""
    stopped = getattr(dist, "with_stopped_parameters", None)
    if stopped is not None:
        result: Distribution = stopped()
        return result
    if isinstance(dist, Independent):
        return Independent(detach_parameters(dist.base_dist), dist.reinterpreted_batch_ndims,
                           validate_args=False)
    if isinstance(dist, Normal):
        return Normal(dist.loc.detach(), dist.scale.detach(), validate_args=False)
    if isinstance(dist, MultivariateNormal):
        return MultivariateNormal(dist.loc.detach(), scale_tril=dist.scale_tril.detach(),
                                  validate_args=False)
    if isinstance(dist, MixtureSameFamily):
        mixing = Categorical(logits=dist.mixture_distribution.logits.detach(), validate_args=False)
        return MixtureSameFamily(mixing, detach_parameters(dist.component_distribution),
                                 validate_args=False)
    raise NotImplementedError(f"cannot detach the parameters of {type(dist).__name__}; "
                              "use an objective without a stopped guide gradient")
