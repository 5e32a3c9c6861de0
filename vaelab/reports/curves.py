"""Training curves from metrics.jsonl: the bound, its two terms and the learning rate."""

from __future__ import annotations

from typing import Any

from matplotlib.ticker import MaxNLocator

from vaelab.reports.blocks import Figure, Section
from vaelab.reports.context import RunContext
from vaelab.reports.figures import figure_png, new_figure, report_style
from vaelab.reports.sections import register_section


def _plot(ax: Any, records: list[dict[str, Any]], key: str, label: str, sign: float = 1.0,
          **style: Any) -> bool:
    """Plot `key` against epoch where recorded; False when no epoch has it."""
    kept = [r for r in records if r.get(key) is not None]
    if not kept:
        return False
    ax.plot([r["epoch"] for r in kept], [sign * r[key] for r in kept], marker="o", markersize=3,
            label=label, **style)
    return True


@register_section(order=30)
def training_curves(run: RunContext) -> Section | None:
    """Train/validation bound, KL and reconstruction terms, learning rate, per epoch."""
    records = run.records
    if not records:
        return None
    objective = (run.config.train.objective if run.config is not None
                 else str((run.description or {}).get("objective", "bound")))
    with report_style():
        fig, axes = new_figure(6.5, 2, 2)
        ax = axes[0, 0]
        bound_label = "train ELBO" if objective == "elbo" else f"train {objective.upper()} bound"
        _plot(ax, records, "train_bound", bound_label)
        _plot(ax, records, "valid_bound", "validation ELBO")
        ax.set(xlabel="epoch", ylabel="nats per image", title="Bound on log p(x) (higher is better)")
        ax.legend()
        ax = axes[0, 1]
        if _plot(ax, records, "train_reconstruction", "−E_q[log p(x|z)]", sign=-1.0, color="C3"):
            ax.set(xlabel="epoch", ylabel="nats per image", title="Reconstruction term (train)")
        else:
            ax.text(0.5, 0.5, f"not recorded by the {objective} objective", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set(title="Reconstruction term", xticks=[], yticks=[])
        ax = axes[1, 0]
        if _plot(ax, records, "train_kl", "KL(q(z|x) ‖ p(z))", color="C2"):
            ax.set(xlabel="epoch", ylabel="nats per image", title="KL term (train)")
        else:
            ax.text(0.5, 0.5, f"not recorded by the {objective} objective", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set(title="KL term", xticks=[], yticks=[])
        ax = axes[1, 1]
        _plot(ax, records, "learning_rate", "learning rate", color="C4")
        ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate and KL weight")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        twin = ax.twinx()
        _plot(twin, records, "kl_weight", "KL weight β", color="C5", linestyle="--")
        twin.set(ylabel="KL weight β", ylim=(0, 1.05))
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="lower right")
        for ax in axes.flat:
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        png = figure_png(fig)
    caption = (f"{len(records)} epochs. Train values are means over each epoch's minibatches; "
               "the validation ELBO is computed on the held-out validation split after each "
               "epoch. Units: nats per image.")
    return Section("curves", "Training curves", (Figure(png, "training curves", caption),))
