"""The seed's argument as a figure: prior Monte Carlo vs importance sampling as k grows.

Shown only when `vaelab evaluate --compare-estimators` has written estimators.json.
"""

from __future__ import annotations

from typing import Any

from vaelab.reports.blocks import Figure, Section, Table, Text
from vaelab.reports.context import RunContext
from vaelab.reports.figures import figure_png, new_figure, report_style
from vaelab.reports.sections import register_section


def _rows(run: RunContext) -> list[dict[str, Any]]:
    rows = (run.estimators or {}).get("rows") or []
    needed = {"k", "prior_mean", "prior_stderr", "is_mean", "is_stderr"}
    bad = [r for r in rows if not isinstance(r, dict) or needed - set(r)]
    if bad:
        raise ValueError(f"{run.run_dir}/estimators.json: rows need {sorted(needed)}; re-run "
                         "`vaelab evaluate --compare-estimators`")
    return sorted(rows, key=lambda r: r["k"])


@register_section(order=110)
def estimator_comparison(run: RunContext) -> Section | None:
    """Plot and table of both estimators' mean log p(x) against k, ± one standard error."""
    rows = _rows(run)
    if not rows:
        return None
    ks = [r["k"] for r in rows]
    with report_style():
        fig, axes = new_figure(4.8)
        ax = axes[0, 0]
        ax.errorbar(ks, [r["prior_mean"] for r in rows], yerr=[r["prior_stderr"] for r in rows],
                    marker="o", capsize=3, label="prior Monte Carlo: z ~ p(z)")
        ax.errorbar(ks, [r["is_mean"] for r in rows], yerr=[r["is_stderr"] for r in rows],
                    marker="s", capsize=3, label="importance sampling: z ~ q(z|x)")
        ax.set_xscale("log")
        ax.set(xlabel="number of samples k", ylabel="estimated log p(x) (nats per image)",
               title="Estimating log p(x): sampling the prior vs the amortized posterior")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
        png = figure_png(fig)
    examples = (run.estimators or {}).get("examples", "?")

    def cell(r: dict[str, Any], key: str, digits: int) -> str:
        return f"{r[key]:.{digits}f}" if r.get(key) is not None else "—"

    def share(r: dict[str, Any], key: str) -> str:
        return f"{100 * r[key]:.0f} %" if r.get(key) is not None else "—"

    table = Table(
        ("k", "prior MC log p(x)", "prior ESS", "importance-sampled log p(x)", "IS ESS",
         "IS k̂ > 0.7"),
        tuple((str(r["k"]), f"{r['prior_mean']:.2f} ± {r['prior_stderr']:.2f}", cell(r, "prior_ess", 2),
               f"{r['is_mean']:.2f} ± {r['is_stderr']:.2f}", cell(r, "is_ess", 1),
               share(r, "is_share_k_hat_above")) for r in rows),
        caption=f"Nats per image, mean ± standard error over {examples} test images; ESS = "
                "effective sample size of the importance weights; IS k̂ > 0.7: share of the images "
                "whose weights' Pareto k̂ says the estimate should not be trusted (— : k < 21, "
                "too few samples, or a comparison from before k̂ was reported).",
    )
    text = Text("Both columns estimate the same log p(x). Sampling z from the prior almost never "
                "hits the region where p(x | z) is large, so its estimate stays low for any "
                "affordable k; importance sampling with the learned q(z | x) is close already at "
                "k = 1 (where it is the ELBO) and tightens as k grows.")
    return Section("estimators", "Estimator comparison",
                   (Figure(png, "estimator comparison", f"{examples} test images."), table, text))
