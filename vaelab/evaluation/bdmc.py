"""`vaelab.bdmc` and `vaelab evaluate RUN --bdmc N`: bracket log p(x) on data simulated from the model.

N examples x ~ p(x | z*), z* ~ p(z) are drawn once; for each number of annealing steps asked,
forward AIS gives a stochastic lower bound and reverse AIS from z* an upper bound on each
log p(x) (`vaelab.objectives.bdmc`, Grosse et al. 2015). The table shows both bounds, their width
(which shrinks as intermediate distributions are added) and where the importance-sampled estimate
of the same examples, with the run's guide and k, falls. Means over examples ± standard errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from vaelab.choices import DEFAULT_BDMC_STEPS
from vaelab.evaluation.progress import progress_bar, scaled
from vaelab.evaluation.trust import pareto_summary, trust_text
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.ais import AISSchedule
from vaelab.objectives.bdmc import bidirectional_monte_carlo, simulate
from vaelab.objectives.marginal import importance_sampled_log_marginal
from vaelab.objectives.result import Estimate


def check_bdmc_settings(examples: int, steps: Sequence[int], chains: int, is_samples: int) -> None:
    """One ValueError naming every bad setting."""
    problems = []
    if examples < 1:
        problems.append(f"examples (--bdmc N) must be >= 1, got {examples}")
    if not steps or min(steps) < 1:
        problems.append(f"annealing steps (--bdmc-steps) must each be >= 1, got {list(steps)}")
    if chains < 1:
        problems.append(f"chains (--bdmc-chains) must be >= 1, got {chains}")
    if is_samples < 1:
        problems.append(f"importance samples k must be >= 1, got {is_samples}")
    if problems:
        raise ValueError("BDMC: " + "; ".join(problems))


def position(is_minus_lower: Estimate, upper_minus_is: Estimate) -> str:
    """Where the IS estimate falls in the bracket, from the paired per-example differences
    IS − lower and upper − IS (mean ± standard error): inside (at what fraction of the width),
    below the lower bound (looser than forward AIS: IS underestimates log p(x) by at least that
    much) or above the upper bound."""
    if is_minus_lower.mean < 0:
        return f"below by {-is_minus_lower.mean:.2f} ± {is_minus_lower.stderr:.2f}"
    if upper_minus_is.mean < 0:
        return f"above by {-upper_minus_is.mean:.2f} ± {upper_minus_is.stderr:.2f}"
    width = is_minus_lower.mean + upper_minus_is.mean
    return f"inside, at {is_minus_lower.mean / max(width, 1e-12):.2f} of the width"


def place(log_px_is: torch.Tensor, row: dict[str, Any]) -> dict[str, Any]:
    """The paired differences of per-example IS estimates with a row's bounds, and the position."""
    bounds = row["per_example"]
    lower, upper = (torch.tensor(bounds[side], dtype=torch.float64) for side in ("lower", "upper"))
    above_lower = Estimate.of(log_px_is.double().cpu() - lower)
    below_upper = Estimate.of(upper - log_px_is.double().cpu())
    return {"is_minus_lower": above_lower.as_dict(), "upper_minus_is": below_upper.as_dict(),
            "is_position": position(above_lower, below_upper)}


@torch.no_grad()
def bdmc(
    model: LatentVariableModel,
    examples: int = 10,
    steps: Sequence[int] = DEFAULT_BDMC_STEPS,
    *,
    chains: int = 1,
    is_samples: int = 1000,
    leapfrog_steps: int = 10,
    batch_size: int = 50,
    seed: int = 0,
    progress: bool | None = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Bidirectional Monte Carlo on `examples` examples simulated from `model`: for each number
    of annealing `steps`, the forward-AIS lower bound, the reverse-AIS upper bound and their width
    (nats, mean ± standard error over examples), and where the importance-sampled log p(x) with
    `is_samples` samples of the guide falls. `chains` chains per direction and example; `log`
    hears each row as it is done. Returns {"examples", "chains", "leapfrog_steps", "seed",
    "is_samples", "log_px_is", "pareto_k", "rows": [{"steps", "lower", "upper", "width",
    "is_minus_lower", "upper_minus_is", "is_position", "seconds", "per_example": {"lower",
    "upper"}}], "seconds"}; the differences are paired per example."""
    steps = sorted(int(s) for s in steps)
    check_bdmc_settings(examples, steps, chains, is_samples)
    was_training = model.training
    model.eval()
    started = time.perf_counter()
    torch.manual_seed(seed)
    try:
        x, z = simulate(model, examples)
        estimate = importance_sampled_log_marginal(model, x, is_samples)
        log_px_is = Estimate.of(estimate.log_px)
        result: dict[str, Any] = {
            "examples": examples, "data": "simulated from the model: z ~ p(z), x ~ p(x | z)",
            "chains": chains, "leapfrog_steps": leapfrog_steps, "seed": seed,
            "is_samples": is_samples, "log_px_is": log_px_is.as_dict(),
            "pareto_k": pareto_summary(estimate.pareto_k, is_samples), "rows": []}
        for count in steps:
            row = _bracket_row(model, x, z, count, chains, leapfrog_steps, batch_size, progress)
            row.update(place(estimate.log_px, row))
            result["rows"].append(row)
            if log is not None:
                log(format_row(row))
    finally:
        model.train(was_training)
    result["seconds"] = time.perf_counter() - started
    return result


def _bracket_row(model: LatentVariableModel, x: torch.Tensor, z: Any, steps: int, chains: int,
                 leapfrog_steps: int, batch_size: int, progress: bool | None) -> dict[str, Any]:
    """Forward and reverse AIS with `steps` annealing steps over `x` in batches."""
    schedule = AISSchedule(steps=steps, leapfrog_steps=leapfrog_steps)
    started = time.perf_counter()
    lower, upper = [], []
    n = x.shape[0]
    with progress_bar(2 * n * steps, f"BDMC, {steps} steps", progress, "steps") as advance:
        for start in range(0, n, batch_size):
            part = slice(start, start + batch_size)
            z_part = tuple(t[part] for t in z) if isinstance(z, tuple) else z[part]
            bracket = bidirectional_monte_carlo(model, x[part], z_part, chains, schedule,
                                                scaled(advance, x[part].shape[0]))
            lower.append(bracket.lower)
            upper.append(bracket.upper)
    lower_all, upper_all = torch.cat(lower), torch.cat(upper)
    return {"steps": steps, "lower": Estimate.of(lower_all).as_dict(),
            "upper": Estimate.of(upper_all).as_dict(),
            "width": Estimate.of(upper_all - lower_all).as_dict(),
            "seconds": time.perf_counter() - started,
            "per_example": {"lower": lower_all.double().cpu().tolist(),
                            "upper": upper_all.double().cpu().tolist()}}


def _estimate(entry: dict[str, Any]) -> str:
    return str(Estimate(**entry))


HEADER = ("steps", "lower (forward AIS)", "upper (reverse AIS)", "width", "IS estimate")


def format_row(row: dict[str, Any]) -> str:
    """One line of the table."""
    return (f"{row['steps']:>7}  {_estimate(row['lower']):>20}  {_estimate(row['upper']):>20}  "
            f"{_estimate(row['width']):>13}  {row['is_position']}")


def format_bdmc(result: dict[str, Any]) -> str:
    """The BDMC table with a heading that says what was bracketed and with what."""
    chains = result["chains"]
    lines = [
        f"BDMC on {result['examples']} examples simulated from the model ({chains} chain"
        f"{'s' if chains > 1 else ''} each way, HMC with {result['leapfrog_steps']} leapfrog steps; "
        "nats, mean ± standard error):",
        f"  log p(x), IS with k = {result['is_samples']} on the same examples: "
        f"{_estimate(result['log_px_is'])}" + (f" ({trust_text(result.get('pareto_k'))})"
                                              if trust_text(result.get("pareto_k")) else ""),
        f"{HEADER[0]:>7}  {HEADER[1]:>20}  {HEADER[2]:>20}  {HEADER[3]:>13}  {HEADER[4]}",
        *(format_row(row) for row in result["rows"]),
    ]
    return "\n".join(lines)


__all__ = ["DEFAULT_BDMC_STEPS", "bdmc", "check_bdmc_settings", "format_bdmc"]
