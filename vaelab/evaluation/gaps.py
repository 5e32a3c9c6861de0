"""What amortized inference costs, measured: the inference gap log p(x) − L[q] split into the
approximation gap log p(x) − L[q*] and the amortization gap L[q*] − L[q] (Cremer, Li & Duvenaud
2018), each as a mean over test examples with its standard error.

log p(x) is the importance-sampled estimate with k samples (a stochastic lower bound that tends
to log p(x); with too small a k the approximation gap reads too small), L[q] the amortized
guide's ELBO and L[q*] the ELBO of the best member of the guide's own family for each example
(`vaelab.objectives.local_guide.optimized_elbo`). With `flow` ("planar:K") also L[q*_flow], the
ELBO of a flow fitted per example on top of the family, started from the encoder's output
(`vaelab.objectives.local_flow`): the approximation gap splits into what the flow recovers,
L[q*_flow] − L[q*], and what is left, log p(x) − L[q*_flow].
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from vaelab.evaluation.progress import progress_bar
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.local_flow import optimized_flow_elbo, parse_local_flow
from vaelab.objectives.local_guide import optimized_elbo
from vaelab.objectives.marginal import importance_sampled_log_marginal
from vaelab.objectives.result import Estimate


def inference_gaps(model: LatentVariableModel, x: torch.Tensor, k: int = 5000, steps: int = 500,
                   lr: float = 1e-2, samples: int = 16, eval_samples: int = 1000,
                   batch_size: int = 100, tolerance: float = 0.05, flow: str | None = None,
                   progress: bool | None = None) -> dict[str, Any]:
    """The gaps of `model` on the examples `x` (in the model's units), in nats: "log_px",
    "elbo_amortized", "elbo_optimized", "approximation_gap", "amortization_gap", "inference_gap"
    (each {"mean", "stderr", "n"}), "converged" (the share of examples whose optimisation
    converged) and the settings. A gap's standard error is that of its per-example differences.
    `flow` ("planar:K", None: not fitted) adds "elbo_flow" (L[q*_flow]), "flow_recovers"
    (L[q*_flow] − L[q*]), "flow_approximation_gap" (log p(x) − L[q*_flow]) and "flow_converged",
    the flow fitted with the same steps, rate and draws as q*."""
    if x.shape[0] < 2:
        raise ValueError(f"the gaps need at least 2 examples (a standard error), got {x.shape[0]}")
    if flow is not None:
        parse_local_flow(flow)  # a bad name is refused before any work
    started = time.perf_counter()
    log_px, amortized, optimized, converged, flowed, flow_converged = [], [], [], [], [], []
    with progress_bar(x.shape[0], "inference gaps", progress, "examples") as advance:
        for first in range(0, x.shape[0], batch_size):
            xb = x[first:first + batch_size]
            with torch.no_grad():
                log_px.append(importance_sampled_log_marginal(model, xb, k).log_px)
            found = optimized_elbo(model, xb, steps, lr, samples, eval_samples, tolerance)
            amortized.append(found.amortized)
            optimized.append(found.optimized)
            converged.append(found.converged)
            if flow is not None:
                fitted = optimized_flow_elbo(model, xb, flow, steps, lr, samples, eval_samples, tolerance)
                flowed.append(fitted.optimized)
                flow_converged.append(fitted.converged)
            advance(xb.shape[0])
    log_px_all, amortized_all, optimized_all = (torch.cat(parts).double().cpu()
                                               for parts in (log_px, amortized, optimized))
    result: dict[str, Any] = {
        "examples": int(x.shape[0]),
        "log_px": Estimate.of(log_px_all).as_dict(),
        "elbo_amortized": Estimate.of(amortized_all).as_dict(),
        "elbo_optimized": Estimate.of(optimized_all).as_dict(),
        "approximation_gap": Estimate.of(log_px_all - optimized_all).as_dict(),
        "amortization_gap": Estimate.of(optimized_all - amortized_all).as_dict(),
        "inference_gap": Estimate.of(log_px_all - amortized_all).as_dict(),
        "converged": float(torch.cat(converged).float().mean()),
        "settings": {"k": k, "steps": steps, "lr": lr, "samples": samples,
                     "eval_samples": eval_samples, "tolerance": tolerance, "flow": flow},
    }
    if flow is not None:
        flow_all = torch.cat(flowed).double().cpu()
        result.update({
            "elbo_flow": Estimate.of(flow_all).as_dict(),
            "flow_recovers": Estimate.of(flow_all - optimized_all).as_dict(),
            "flow_approximation_gap": Estimate.of(log_px_all - flow_all).as_dict(),
            "flow_converged": float(torch.cat(flow_converged).float().mean()),
        })
    result["seconds"] = time.perf_counter() - started
    return result


def gap_lines(gaps: dict[str, Any]) -> list[str]:
    """The gaps as lines for the command line."""
    def shown(key: str) -> str:
        value = gaps[key]
        return f"{value['mean']:8.2f} ± {value['stderr']:.2f}"

    settings = gaps["settings"]
    return [f"inference gaps on {gaps['examples']} test examples (nats; log p(x) by IS with k = "
            f"{settings['k']}, q* after {settings['steps']} Adam steps, "
            f"{100 * gaps['converged']:.0f} % converged):",
            f"  log p(x)            {shown('log_px')}",
            f"  L[q*] (optimised)   {shown('elbo_optimized')}",
            f"  L[q]  (amortized)   {shown('elbo_amortized')}",
            f"  approximation gap   {shown('approximation_gap')}   log p(x) − L[q*]: the family",
            f"  amortization gap    {shown('amortization_gap')}   L[q*] − L[q]: the encoder",
            f"  inference gap       {shown('inference_gap')}   log p(x) − L[q]",
            *_flow_lines(gaps, shown)]


def _flow_lines(gaps: dict[str, Any], shown: Callable[[str], str]) -> list[str]:
    if "elbo_flow" not in gaps:
        return []
    flow = gaps["settings"]["flow"]
    return [f"  a {flow} flow on the family, fitted per example from the encoder's output "
            f"({100 * gaps['flow_converged']:.0f} % converged):",
            f"  L[q*_flow]          {shown('elbo_flow')}",
            f"  of which the flow   {shown('flow_recovers')}   L[q*_flow] − L[q*]: of the approximation "
            "gap, what a richer family recovers",
            f"  left                {shown('flow_approximation_gap')}   log p(x) − L[q*_flow]",
            *(["  warning: log p(x) by IS lies below L[q*_flow], itself a lower bound on log p(x): the IS "
               "estimate is too low by at least that much (and the approximation gap reads too small); "
               "raise k or use AIS"] if flow_beats_is(gaps) else [])]


def flow_beats_is(gaps: dict[str, Any]) -> bool:
    """Whether L[q*_flow] exceeds the IS log p(x) by more than two standard errors (paired): the IS
    estimate is then demonstrably low."""
    left = gaps.get("flow_approximation_gap")
    return left is not None and left["mean"] + 2 * left["stderr"] < 0


__all__ = ["flow_beats_is", "gap_lines", "inference_gaps"]
