"""Several runs side by side: a table of their final numbers and overlaid validation curves."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.ticker import MaxNLocator

from vaelab.reports.blocks import Figure, Section, Table
from vaelab.reports.context import RunContext
from vaelab.reports.figures import figure_png, new_figure, report_style
from vaelab.reports.numbers import DASH, estimate_text
from vaelab.reports.sections import register_comparison


@register_comparison(order=10)
def comparison_table(runs: Sequence[RunContext]) -> Section:
    """Dataset, likelihood, latent dim, epochs, test ELBO and IS log p(x) ± se of each run."""
    rows = []
    for run in runs:
        test = (run.metrics or {}).get("test") or {}
        k = test.get("is_samples")
        rows.append((
            run.name, run.config.data.dataset if run.config else DASH,
            run.config.model.likelihood if run.config else DASH,
            str(getattr(run.model, "latent_dim", DASH)),
            str(run.records[-1]["epoch"]) if run.records else "0",
            estimate_text(test.get("elbo")),
            estimate_text(test.get("log_px_is")) + (f" (k = {k})" if k else ""),
        ))
    table = Table(("run", "dataset", "likelihood", "latent dim", "epochs", "test ELBO",
                   "test log p(x), IS"), tuple(rows),
                  caption="Nats per image, mean ± standard error over each run's test images "
                          f"({DASH} where the run has no metrics.json). Compare log-likelihoods "
                          "only between runs on the same data and likelihood.")
    return Section("table", "Comparison", (table,))


@register_comparison(order=20)
def validation_curves(runs: Sequence[RunContext]) -> Section | None:
    """Each run's validation ELBO per epoch on one axis (train bound, dashed, where none)."""
    if not any(run.records for run in runs):
        return None
    with report_style():
        fig, axes = new_figure(4.8)
        ax = axes[0, 0]
        for i, run in enumerate(runs):
            valid = [(r["epoch"], r["valid_bound"]) for r in run.records if r.get("valid_bound") is not None]
            if valid:
                ax.plot(*zip(*valid, strict=True), marker="o", markersize=3, color=f"C{i % 10}",
                        label=run.name)
            elif run.records:
                ax.plot([r["epoch"] for r in run.records], [r["train_bound"] for r in run.records],
                        linestyle="--", color=f"C{i % 10}", label=f"{run.name} (train bound)")
        ax.set(xlabel="epoch", ylabel="validation ELBO (nats per image)",
               title="Validation bound per epoch")
        ax.legend()
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        png = figure_png(fig)
    return Section("curves", "Validation curves",
                   (Figure(png, "validation curves of all runs", "Higher is better."),))
