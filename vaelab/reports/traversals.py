"""Latent traversals: what each active dimension controls, one dimension swept at a time."""

from __future__ import annotations

import torch

from vaelab.evaluation.run import display
from vaelab.reports.blocks import Figure, Section, Text
from vaelab.reports.context import RunContext
from vaelab.reports.figures import cell_centres, figure_png, new_figure, report_style, show_grid
from vaelab.reports.latent import ACTIVITY_THRESHOLD
from vaelab.reports.sections import register_section

MAX_DIMENSIONS = 10
SPAN = 3.0  # prior standard deviations either side of the prior mean
STEPS = 9


def traversal_dimensions(activity: torch.Tensor, limit: int = MAX_DIMENSIONS) -> list[int]:
    """The active dimensions, most active first, at most `limit` of them."""
    order = torch.argsort(activity, descending=True).tolist()
    return [d for d in order if activity[d] > ACTIVITY_THRESHOLD][:limit]


@torch.no_grad()
def traversal_images(run: RunContext, dims: list[int], steps: int = STEPS,
                     span: float = SPAN) -> torch.Tensor:
    """Rows of decodings: row i sweeps z_{dims[i]} over prior mean ± span · prior std while the
    other coordinates stay at the first test image's posterior mean; [len(dims) * steps, C, H, W]."""
    means = run.posterior_means
    assert means is not None, "traversals need a single-latent model"
    prior = run.model.prior()
    base = means[0].to(run.device)
    values = torch.linspace(-span, span, steps, device=run.device)
    z = base.repeat(len(dims), steps, 1)  # [dims, steps, d]
    for row, d in enumerate(dims):
        z[row, :, d] = prior.mean[d] + values * prior.stddev[d]
    return display(run.model, run.model.decode_mean(z.flatten(0, 1))).cpu()


@register_section(order=80)
def latent_traversals(run: RunContext) -> Section | None:
    """One row per active dimension (at most 10), swept from −3 to +3 prior standard deviations."""
    activity = run.activity
    if activity is None or not run.images:
        return None
    dims = traversal_dimensions(activity)
    title = "Latent traversals"
    if not dims:
        return Section("traversals", title, (Text(
            f"No active dimension (Cov_x(E_q[z_d|x]) > {ACTIVITY_THRESHOLD}) to traverse: the "
            "posterior ignores the input in every direction."),))
    images = traversal_images(run, dims)
    with report_style():
        fig, axes = new_figure(0.62 * len(dims) + 1.1)
        ax = axes[0, 0]
        row_pitch, col_pitch = show_grid(ax, images, STEPS)
        values = torch.linspace(-SPAN, SPAN, STEPS).tolist()
        ax.set_xticks(cell_centres(STEPS, col_pitch), [f"{v:+.2g}σ" if v else "0" for v in values])
        ax.set_yticks(cell_centres(len(dims), row_pitch),
                      [f"z{d + 1} (A={activity[d]:.2f})" for d in dims])
        ax.set_xlabel("value of the swept coordinate, in prior standard deviations σ from the prior mean")
        png = figure_png(fig)
    more = int((activity > ACTIVITY_THRESHOLD).sum()) - len(dims)
    note = f" {more} further active dimensions are not shown." if more > 0 else ""
    figure = Figure(png, "latent traversals",
                    "Each row sweeps one active dimension (A = its activity Cov_x(E_q[z_d|x]), most "
                    "active first) while the others stay at the posterior mean of the first test "
                    f"image; images are decoder means E[x | z].{note}")
    return Section("traversals", title, (figure,))
