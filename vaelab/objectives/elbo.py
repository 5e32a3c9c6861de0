"""The evidence lower bound: log p(x) ≥ E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)).

z is drawn with the reparameterisation trick (`rsample`) so the bound's gradient flows
through the sample into the encoder (Kingma & Welling 2014).
"""

from __future__ import annotations

import torch

from vaelab.distributions.kl import kl_or_estimate
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import ObjectiveValue


def elbo(
    model: LatentVariableModel,
    x: torch.Tensor,
    samples: int = 1,
    kl_weight: float = 1.0,
    analytic_kl: bool = True,
) -> ObjectiveValue:
    """ELBO per example with `samples` reparameterised draws; the loss weights the KL by β.

    `kl_weight` < 1 is KL warm-up: it changes the loss only, never the reported bound.
    With `analytic_kl=False` the KL is the Monte-Carlo log q(z|x) − log p(z) at the same draws.
    """
    q = model.posterior(x)
    if samples == 1:  # the common case: no sample dimension to average away
        z = q.rsample()
        reconstruction = model.likelihood(z).log_prob(x)
    else:
        z = q.rsample((samples,))  # [k, B, d]
        reconstruction = model.likelihood(z).log_prob(x).mean(0)
    prior = model.prior()
    if analytic_kl:
        kl = kl_or_estimate(q, prior, z)
    else:
        kl = q.log_prob(z) - prior.log_prob(z)
        kl = kl if samples == 1 else kl.mean(0)
    bound = reconstruction - kl
    loss = -(reconstruction - kl_weight * kl).mean()
    return ObjectiveValue(
        loss=loss,
        bound=bound.detach(),
        terms={"reconstruction": reconstruction.detach().mean(), "kl": kl.detach().mean()},
    )
