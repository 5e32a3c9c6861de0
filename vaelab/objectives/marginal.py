"""Estimators of log p(x) by Monte Carlo: importance sampling with q, and the naive prior one.

Both average k weights w_i in log space, log (1/k) Σ w_i, streamed over chunks of samples so
memory stays bounded for k in the thousands:
- importance sampling: z_i ~ q(z | x), w_i = p(x | z_i) p(z_i) / q(z_i | x)  (consistent; for
  finite k a stochastic lower bound, the IWAE_k bound);
- prior Monte Carlo (the seed's estimator): z_i ~ p(z), w_i = p(x | z_i). Unbiased in p(x) but
  almost every z_i explains x badly in high dimensions, so it needs astronomically many samples.

Each estimate also carries the Pareto k̂ of its weights (`vaelab.objectives.pareto`): whether it
can be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from vaelab.distributions.learned_priors import priors_fixed
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.inputs import check_observations
from vaelab.objectives.pareto import TopLogWeights

DEFAULT_SAMPLE_BUDGET = 65_536
"""Samples × examples decoded at once; bounds memory to about this × data size × 4 bytes."""


@dataclass(frozen=True)
class MarginalEstimate:
    """Per-example log p(x) estimates (nats), the effective sample size of their weights and,
    for importance sampling, the Pareto k̂ of the weights (> 0.7: do not trust the estimate; NaN
    when k < 21 is too few to fit a tail; see `vaelab.objectives.pareto`)."""

    log_px: torch.Tensor
    ess: torch.Tensor
    pareto_k: torch.Tensor | None = field(default=None)


def streaming_log_mean_exp(
    draw_log_weights: Callable[[int], torch.Tensor], k: int, chunk: int,
    on_chunk: Callable[[int], None] | None = None,
) -> MarginalEstimate:
    """log (1/k) Σ_i w_i over k weights drawn `chunk` at a time as [c, B] log-weights.

    Also tracks log Σ w_i² so ESS = (Σ w)² / Σ w² comes for free, and the largest
    ⌈min(k/5, 3√k)⌉ + 1 log-weights per example for their Pareto k̂. `on_chunk(c)` is called after
    each chunk of c weights per example (a caller's progress bar; the maths ignores it).
    """
    if k < 1:
        raise ValueError(f"number of samples k must be >= 1, got {k}")
    lse = lse_sq = None
    top = TopLogWeights(k)
    remaining = k
    while remaining > 0:
        c = min(chunk, remaining)
        log_w = draw_log_weights(c).double()
        part, part_sq = torch.logsumexp(log_w, 0), torch.logsumexp(2.0 * log_w, 0)
        top.add(log_w)
        if lse is None:
            lse, lse_sq = part, part_sq
        else:
            lse = torch.logaddexp(lse, part)
            lse_sq = torch.logaddexp(lse_sq, part_sq)
        remaining -= c
        if on_chunk is not None:
            on_chunk(c)
    assert lse is not None and lse_sq is not None
    return MarginalEstimate(log_px=(lse - math.log(k)).float(), ess=(2 * lse - lse_sq).exp().float(),
                            pareto_k=top.pareto_k().float())


def _chunk(batch_size: int, sample_budget: int) -> int:
    return max(1, sample_budget // max(1, batch_size))


@torch.no_grad()
def importance_sampled_log_marginal(
    model: LatentVariableModel,
    x: torch.Tensor,
    k: int = 5000,
    sample_budget: int = DEFAULT_SAMPLE_BUDGET,
    on_chunk: Callable[[int], None] | None = None,
) -> MarginalEstimate:
    """log p(x) ≈ log (1/k) Σ p(x, z_i) / q(z_i | x), z_i ~ q(z | x), per example in `x`;
    `on_chunk(c)` after each chunk of c samples per example."""
    check_observations(model, x)

    def draw(c: int) -> torch.Tensor:
        z, log_q = model.guide_sample(x, (c,))
        return model.log_joint(x, z) - log_q

    with priors_fixed(model):
        return streaming_log_mean_exp(draw, k, _chunk(x.shape[0], sample_budget), on_chunk)


@torch.no_grad()
def prior_monte_carlo_log_marginal(
    model: LatentVariableModel,
    x: torch.Tensor,
    k: int = 5000,
    sample_budget: int = DEFAULT_SAMPLE_BUDGET,
    on_chunk: Callable[[int], None] | None = None,
) -> MarginalEstimate:
    """The naive estimator log (1/k) Σ p(x | z_i), z_i ~ p(z), per example in `x`;
    `on_chunk(c)` after each chunk of c samples per example."""
    check_observations(model, x)
    batch = x.shape[0]

    def draw(c: int) -> torch.Tensor:
        return model.log_likelihood(x, model.prior_sample((c, batch)))

    with priors_fixed(model):
        return streaming_log_mean_exp(draw, k, _chunk(batch, sample_budget), on_chunk)
