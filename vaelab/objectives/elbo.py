"""The evidence lower bound: log p(x) ≥ E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)).

z is drawn with the reparameterisation trick so the bound's gradient flows through the sample
into the encoder (Kingma & Welling 2014). For a single latent the KL is analytic when torch
knows it; hierarchical models and learned priors use the Monte-Carlo KL log q(z|x) − log p(z).
"""

from __future__ import annotations

import torch

from vaelab.distributions.kl import kl_or_estimate
from vaelab.models.base import LatentVariableModel, SingleLatentModel
from vaelab.objectives.inputs import check_observations
from vaelab.objectives.result import ObjectiveValue


def elbo(
    model: LatentVariableModel,
    x: torch.Tensor,
    samples: int = 1,
    kl_weight: float = 1.0,
    analytic_kl: bool = True,
    stop_guide_gradient: bool = False,
    *,
    free_bits: float = 0.0,
    balance: bool = False,
    check_input: bool = True,
) -> ObjectiveValue:
    """ELBO per example with `samples` reparameterised draws; the loss weights the KL by β.

    `kl_weight` < 1 is KL warm-up: it changes the loss only, never the reported bound.
    With `analytic_kl=False` (or no closed form) the KL is Monte Carlo at the same draws.
    `stop_guide_gradient` gives the "sticking the landing" gradient (Roeder et al. 2017): the
    same bound, with the zero-mean score term removed from the encoder's gradient.
    `free_bits` λ > 0 (Kingma et al. 2016, "free bits") changes the loss only, as `kl_weight` does:
    the KL term becomes max(λ, KL averaged over the batch), a floor below which the KL is not
    pushed down, for each latent group of a model that splits its latents (`guide_sample_groups`;
    one group otherwise). The bound is unchanged; `terms["kl_free_bits"]` is the floored term the
    loss used, `terms["kl_zG"]` each group's KL when there are several.
    `balance` (NVAE's KL balancing) reweights the groups' KLs during warm-up (`kl_weight` < 1).
    `check_input=False` skips the check of x's values (a training loop checked its data once).
    """
    if free_bits < 0:
        raise ValueError(f"free_bits must be >= 0 nats, got {free_bits}")
    if check_input:
        check_observations(model, x)
    shape = () if samples == 1 else (samples,)
    if analytic_kl and not stop_guide_gradient and isinstance(model, SingleLatentModel):
        q = model.posterior(x)
        z = q.rsample(shape)
        reconstruction = model.likelihood(z).log_prob(x)
        kl = kl_or_estimate(q, model.prior(), z).unsqueeze(-1)
    else:
        z, log_q = model.guide_sample_groups(x, shape, stop_guide_gradient)
        reconstruction = model.log_likelihood(x, z)
        closed = model.analytic_kl_groups(z) if analytic_kl and not stop_guide_gradient else None
        kl = log_q - model.log_prior_groups(z) if closed is None else closed
    if samples > 1:
        reconstruction = reconstruction.mean(0)
        if kl.dim() > reconstruction.dim() + 1:  # a Monte Carlo KL per draw: [samples, B, G]
            kl = kl.mean(0)
    bound = reconstruction - kl.sum(-1)
    terms = {"reconstruction": reconstruction.detach().mean(), "kl": kl.detach().sum(-1).mean()}
    if kl.shape[-1] > 1:
        terms.update({f"kl_z{g + 1}": group.detach().mean() for g, group in enumerate(kl.unbind(-1))})
    loss = -reconstruction.mean() + kl_weight * kl_penalty(kl, free_bits, balance and kl_weight < 1, terms)
    return ObjectiveValue(loss=loss, bound=bound.detach(), terms=terms)


def kl_penalty(kl: torch.Tensor, free_bits: float, balance: bool,
               terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """The KL term of the loss from per-example, per-group KLs [B, G]: their batch mean, each
    group's floored at `free_bits` (recorded as `kl_free_bits`), and with `balance` weighted by
    γ_g ∝ the group's share of the KL (NVAE's KL balancing, so no group is left to collapse while
    the KL is warmed up; the weights average 1)."""
    per_group = kl.reshape(-1, kl.shape[-1]).mean(0)
    if free_bits > 0:
        per_group = per_group.clamp_min(free_bits)
        terms["kl_free_bits"] = per_group.detach().sum()
    if balance and per_group.numel() > 1:
        share = per_group.detach().abs() + 0.01
        per_group = per_group * (share / share.mean())
    return per_group.sum()
