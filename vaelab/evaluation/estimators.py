"""The seed's argument, measured: prior Monte Carlo vs importance sampling as k grows.

log p(x) ≈ log (1/k) Σ p(x | z_i) with z_i ~ p(z) barely moves from a hopeless value at any
affordable k in high dimensions, while importance sampling with the amortized q(z | x) is
close to its limit already at k = 1 (where it is the ELBO) and tightens quickly.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from vaelab.choices import DEFAULT_KS as DEFAULT_KS
from vaelab.evaluation.progress import progress_bar, scaled
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.marginal import (
    DEFAULT_SAMPLE_BUDGET,
    importance_sampled_log_marginal,
    prior_monte_carlo_log_marginal,
)
from vaelab.objectives.pareto import TRUST_THRESHOLD
from vaelab.objectives.result import Estimate


@dataclass(frozen=True)
class EstimatorRow:
    """Both estimates of mean log p(x) (nats) over the same examples at one k."""

    k: int
    prior_mean: float
    prior_stderr: float
    prior_ess: float
    is_mean: float
    is_stderr: float
    is_ess: float
    prior_seconds: float
    is_seconds: float
    #: share of examples whose weights have Pareto k̂ > 0.7 (None: k < 21, too few for k̂)
    prior_share_k_hat_above: float | None = None
    is_share_k_hat_above: float | None = None

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@torch.no_grad()
def compare_estimators(
    model: LatentVariableModel,
    x: torch.Tensor,
    ks: tuple[int, ...] = DEFAULT_KS,
    sample_budget: int = DEFAULT_SAMPLE_BUDGET,
    progress: bool | None = None,
) -> list[EstimatorRow]:
    """For each k, the prior Monte Carlo and importance-sampling estimates on examples `x`
    (the bar counts images × samples of both estimators over every k)."""
    model.eval()
    rows = []
    total = 2 * x.shape[0] * sum(ks)
    with progress_bar(total, "estimator comparison", progress, "samples") as advance:
        per_example = scaled(advance, x.shape[0])
        for k in ks:
            t0 = time.perf_counter()
            prior = prior_monte_carlo_log_marginal(model, x, k, sample_budget, per_example)
            t1 = time.perf_counter()
            importance = importance_sampled_log_marginal(model, x, k, sample_budget, per_example)
            t2 = time.perf_counter()
            p, q = Estimate.of(prior.log_px), Estimate.of(importance.log_px)
            rows.append(EstimatorRow(
                k=k, prior_mean=p.mean, prior_stderr=p.stderr, prior_ess=float(prior.ess.mean()),
                is_mean=q.mean, is_stderr=q.stderr, is_ess=float(importance.ess.mean()),
                prior_seconds=t1 - t0, is_seconds=t2 - t1,
                prior_share_k_hat_above=_share_above(prior.pareto_k),
                is_share_k_hat_above=_share_above(importance.pareto_k),
            ))
    return rows


def _share_above(k_hat: torch.Tensor | None) -> float | None:
    """Share of examples with k̂ > 0.7; None when k̂ is not available (too few samples)."""
    if k_hat is None or torch.isnan(k_hat).all():
        return None
    return float((k_hat > TRUST_THRESHOLD).double().mean())


def _share_text(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f} %"


def format_table(rows: list[EstimatorRow]) -> str:
    """A plain-text table of the comparison, one line per k."""
    header = (f"{'k':>7}  {'prior MC log p(x)':>22}  {'ESS':>7}  {'k̂>0.7':>6}  "
              f"{'importance sampled':>22}  {'ESS':>8}  {'k̂>0.7':>6}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.k:>7}  {r.prior_mean:>13.2f} ± {r.prior_stderr:<6.2f}  {r.prior_ess:>7.2f}  "
            f"{_share_text(r.prior_share_k_hat_above):>6}  "
            f"{r.is_mean:>13.2f} ± {r.is_stderr:<6.2f}  {r.is_ess:>8.1f}  "
            f"{_share_text(r.is_share_k_hat_above):>6}"
        )
    lines.append("(nats per example, mean ± standard error over the test images; "
                 "ESS = effective sample size of the weights; k̂>0.7: share of the images whose "
                 "weights' Pareto k̂ says not to trust the estimate, — below k = 21)")
    return "\n".join(lines)
