"""The best member of a guide's own family for each example: q*(z | x), found by optimising the
family's parameters η per example from where the encoder puts them (Cremer, Li & Duvenaud 2018,
"Inference Suboptimality in Variational Autoencoders").

The amortized guide q(z | x) = Family(η(x)) shares one network across all x; q* is free per
example. Their ELBOs split the inference gap log p(x) − L[q] into the approximation gap
log p(x) − L[q*] (the family cannot match the posterior) and the amortization gap L[q*] − L[q]
(the encoder does not find the family's best member). The model's own weights stay fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from vaelab.distributions.learned_priors import priors_fixed
from vaelab.models.base import LatentVariableModel, SingleLatentModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.objectives.inputs import check_observations

#: steps between the two windows whose mean ELBOs tell whether an optimisation has converged
CONVERGENCE_WINDOW = 50


@dataclass(frozen=True)
class LocalGuide:
    """A guide as a family of distributions over its per-example parameters: `family(eta)` is
    q with batch [B] and event [d]; `eta` [B, ...] are the amortized guide's parameters for x."""

    eta: torch.Tensor
    family: Callable[[torch.Tensor], Distribution]


@dataclass(frozen=True)
class LocalOptimum:
    """Per-example ELBOs [B] of the amortized guide and of the optimised one (nats, each from
    `eval_samples` draws), and whether each optimisation converged (its ELBO changed by less
    than the tolerance between the last two windows of steps)."""

    amortized: torch.Tensor
    optimized: torch.Tensor
    converged: torch.Tensor
    steps: int


def local_guide(model: LatentVariableModel, x: torch.Tensor) -> LocalGuide:
    """The model's guide at x as a parameterised family. A model may define
    `local_guide(x) -> LocalGuide`; otherwise an encoder that is a `ConditionalDistribution`
    gives its own η(x) and family (any registered guide family), and a diagonal or
    full-covariance Gaussian q(z | x) is parameterised by its mean and log scales."""
    own = getattr(model, "local_guide", None)
    if callable(own):  # any object with the two fields (a model module cannot import this one)
        found = own(x)
        return LocalGuide(found.eta, found.family)
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, ConditionalDistribution):
        return LocalGuide(encoder.parameters_of(x), lambda eta: encoder.family(eta, 1))
    if not isinstance(model, SingleLatentModel):
        raise ValueError(f"{type(model).__name__}: the guide's best member per example is found for "
                         "models with one latent vector (a SingleLatentModel); give the model a "
                         "local_guide(x) method for others")
    return _gaussian_guide(model.posterior(x), type(model).__name__)


def _gaussian_guide(q: Distribution, model_name: str) -> LocalGuide:
    if isinstance(q, Independent) and isinstance(q.base_dist, Normal):
        eta = torch.stack([q.base_dist.loc, q.base_dist.scale.log()], -2)
        return LocalGuide(eta, lambda e: Independent(Normal(e[..., 0, :], e[..., 1, :].exp()), 1))
    if isinstance(q, MultivariateNormal):
        d = q.loc.shape[-1]
        rows, cols = torch.tril_indices(d, d)
        tril = q.scale_tril.clone()
        diagonal = rows == cols
        tril[..., rows[diagonal], cols[diagonal]] = tril[..., rows[diagonal], cols[diagonal]].log()
        eta = torch.cat([q.loc, tril[..., rows, cols]], -1)

        def family(e: torch.Tensor) -> Distribution:
            scale = e.new_zeros(*e.shape[:-1], d, d)
            values = e[..., d:]
            values = torch.where(diagonal, values.exp(), values)
            scale[..., rows, cols] = values
            return MultivariateNormal(e[..., :d], scale_tril=scale)

        return LocalGuide(eta, family)
    raise ValueError(f"{model_name}: cannot parameterise its guide {type(q).__name__} per example; "
                     "give the model a local_guide(x) method")


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """The model in eval mode inside the block, its mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    """The model's weights out of autograd (only η is optimised), restored afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _elbo(model: LatentVariableModel, x: torch.Tensor, q: Distribution, samples: int) -> torch.Tensor:
    """Monte-Carlo ELBO per example [B] from `samples` reparameterised draws of q."""
    z = q.rsample((samples,))
    return (model.log_joint(x, z) - q.log_prob(z)).mean(0)


def _elbo_estimate(model: LatentVariableModel, x: torch.Tensor, q: Distribution, samples: int,
                   chunk: int = 100) -> torch.Tensor:
    with torch.no_grad():
        parts = [_elbo(model, x, q, min(chunk, samples - start)) * min(chunk, samples - start)
                 for start in range(0, samples, chunk)]
    return torch.stack(parts).sum(0) / samples


def optimized_elbo(model: LatentVariableModel, x: torch.Tensor, steps: int = 500, lr: float = 1e-2,
                   samples: int = 16, eval_samples: int = 1000, tolerance: float = 0.05) -> LocalOptimum:
    """Optimise each example's guide parameters η from the encoder's, by Adam on the ELBO with
    `samples` reparameterised draws per step, for `steps` steps (the rate `lr` decays on a cosine
    to 1 % of itself); score the amortized and the
    optimised guide with `eval_samples` draws. Converged: the mean ELBO of the last
    CONVERGENCE_WINDOW steps is within `tolerance` nats of the window before."""
    check_fit_settings(steps, lr, samples, eval_samples)
    check_observations(model, x)
    with evaluating(model), torch.no_grad():
        guide = local_guide(model, x)
    return fit_per_example(model, x, (guide.eta.detach(),), lambda p: guide.family(p[0]), steps, lr,
                           samples, eval_samples, tolerance)


def check_fit_settings(steps: int, lr: float, samples: int, eval_samples: int) -> None:
    """One ValueError for a bad number of steps, draws or rate."""
    if steps < 1 or samples < 1 or eval_samples < 1 or not lr > 0:
        raise ValueError(f"steps, samples and eval_samples must be >= 1 and lr > 0, got {steps}, "
                         f"{samples}, {eval_samples} and {lr}")


def fit_per_example(model: LatentVariableModel, x: torch.Tensor, start: Sequence[torch.Tensor],
                    family: Callable[[Sequence[torch.Tensor]], Distribution], steps: int, lr: float,
                    samples: int, eval_samples: int, tolerance: float) -> LocalOptimum:
    """Maximise the ELBO of q = `family(params)` (batch [B], event [d]) over per-example
    parameters starting at `start` (each [B, ...]), the model's weights fixed: all B examples
    are one batch of independent problems (Adam is per coordinate; the loss a sum over
    examples). Returns the ELBOs at the start ("amortized") and at the end, and convergence."""
    with evaluating(model), _frozen(model), priors_fixed(model), torch.enable_grad():
        initial = [p.detach() for p in start]
        amortized = _elbo_estimate(model, x, family(initial), eval_samples)
        params = [p.clone().requires_grad_(True) for p in initial]
        optimizer = torch.optim.Adam(params, lr=lr)
        # the rate decays to 1 % by the end, so the last steps settle rather than jitter
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=lr / 100)
        history = []
        for _ in range(steps):
            elbo = _elbo(model, x, family(params), samples)
            optimizer.zero_grad(set_to_none=True)
            (-elbo.sum()).backward()
            optimizer.step()
            schedule.step()
            history.append(elbo.detach())
        optimized = _elbo_estimate(model, x, family([p.detach() for p in params]), eval_samples)
    return LocalOptimum(amortized, optimized, _converged(history, tolerance), steps)


def _converged(history: list[torch.Tensor], tolerance: float) -> torch.Tensor:
    window = CONVERGENCE_WINDOW
    if len(history) < 2 * window:
        return torch.zeros_like(history[-1], dtype=torch.bool)
    last = torch.stack(history[-window:]).mean(0)
    before = torch.stack(history[-2 * window:-window]).mean(0)
    return (last - before).abs() < tolerance


__all__ = ["CONVERGENCE_WINDOW", "LocalGuide", "LocalOptimum", "check_fit_settings", "fit_per_example",
           "local_guide", "optimized_elbo"]
