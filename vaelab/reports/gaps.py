"""Report section: what amortized inference costs — the newest `vaelab evaluate --gaps N` of the
run, its inference gap split into the approximation and amortization gaps (Cremer et al. 2018)."""

from __future__ import annotations

from typing import Any

from vaelab.evaluation.gaps import flow_beats_is
from vaelab.reports.blocks import Section, Table, Text
from vaelab.reports.context import RunContext
from vaelab.reports.numbers import estimate_text
from vaelab.reports.sections import register_section
from vaelab.runs.evaluations import FRAME, RunEvaluations

ROWS = (
    ("log p(x)", "log_px", "importance sampled, the strongest estimate of the evaluation"),
    ("L[q*]", "elbo_optimized", "ELBO of the best member of the guide's family, per image"),
    ("L[q]", "elbo_amortized", "ELBO of the amortized guide (the encoder's)"),
    ("approximation gap", "approximation_gap", "log p(x) − L[q*]: what the family cannot fit"),
    ("amortization gap", "amortization_gap", "L[q*] − L[q]: what the encoder misses"),
    ("inference gap", "inference_gap", "log p(x) − L[q]: the two together"),
)

#: rows of a flow fitted per image (`--gap-flow planar:K`), when the evaluation has them
FLOW_ROWS = (
    ("L[q*_flow]", "elbo_flow", "ELBO of a {flow} flow on the family, fitted per image"),
    ("of which the flow recovers", "flow_recovers",
     "L[q*_flow] − L[q*]: the part of the approximation gap a richer family closes"),
    ("left to the flow", "flow_approximation_gap", "log p(x) − L[q*_flow]"),
)


def newest_gaps(run: RunContext) -> dict[str, Any] | None:
    """The gaps of the run's newest evaluation that measured them, or None."""
    found = [e for e in RunEvaluations(run.run_dir, FRAME).load() if "gaps" in (e.results or {})]
    return found[-1].results["gaps"] if found else None


@register_section(order=22)
def inference_gaps(run: RunContext) -> Section | None:
    """The approximation and amortization gaps, with their standard errors."""
    gaps = newest_gaps(run)
    if gaps is None:
        return None
    settings = gaps["settings"]
    rows = tuple((label, estimate_text(gaps[key]), note) for label, key, note in ROWS)
    caption = (f"Nats per image, mean ± standard error over {gaps['examples']} test images; log p(x) "
               f"by importance sampling with k = {settings['k']}; q* after {settings['steps']} Adam "
               f"steps from the encoder's parameters ({100 * gaps['converged']:.0f} % converged).")
    if "elbo_flow" in gaps:
        flow = settings.get("flow")
        rows += tuple((label, estimate_text(gaps[key]), note.format(flow=flow))
                      for label, key, note in FLOW_ROWS)
        caption += (f" q*_flow: a {flow} flow on the family, its steps started at the identity and "
                    f"its base at the encoder's output, fitted as q* ({100 * gaps['flow_converged']:.0f} % "
                    "converged); differences paired per image.")
        if flow_beats_is(gaps):
            caption += (" L[q*_flow] exceeds the IS log p(x): the IS estimate is too low by at least "
                        "that much, and the approximation gap reads too small.")
    note = Text("Which gap dominates says where to spend: a richer family (`--posterior full`, "
                "`iaf:K`) narrows the approximation gap, a better encoder the amortization gap.")
    return Section("gaps", "Inference gaps", (Table(("quantity", "value", "meaning"), rows, caption), note))


__all__ = ["FLOW_ROWS", "ROWS", "inference_gaps", "newest_gaps"]
