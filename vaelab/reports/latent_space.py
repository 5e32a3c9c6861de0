"""The latent space itself: which dimensions are used, where test images land, and (for a 2-D
latent) the decoded manifold over the prior's quantiles (Kingma & Welling 2014, fig. 4)."""

from __future__ import annotations

import matplotlib
import numpy as np
import torch
from torch.distributions import Normal

from vaelab.evaluation.run import display
from vaelab.reports.blocks import Figure, Section
from vaelab.reports.context import RunContext
from vaelab.reports.figures import cell_centres, figure_png, new_figure, report_style, show_grid
from vaelab.reports.latent import ACTIVITY_THRESHOLD, pca_2d
from vaelab.reports.sections import register_section

MANIFOLD_SIDE = 15
MAX_BARS = 64


@register_section(order=70)
def latent_usage(run: RunContext) -> Section | None:
    """KL per latent dimension and each dimension's activity, with the active-unit threshold."""
    activity, kl = run.activity, run.kl_per_dim
    if activity is None:
        return None
    d = activity.shape[0]
    shown = torch.arange(d) if d <= MAX_BARS else torch.argsort(activity, descending=True)[:MAX_BARS]
    labels = [str(int(i) + 1) for i in shown]
    active = int((activity > ACTIVITY_THRESHOLD).sum())
    with report_style():
        fig, axes = new_figure(5.5 if kl is not None else 3.2, 2 if kl is not None else 1, 1)
        position = np.arange(len(shown))
        ax = axes[0, 0]
        values = activity[shown].clamp_min(1e-6).numpy()
        ax.bar(position, values, color=["C0" if v > ACTIVITY_THRESHOLD else "C7" for v in values])
        ax.axhline(ACTIVITY_THRESHOLD, color="C3", linestyle="--",
                   label=f"active-unit threshold {ACTIVITY_THRESHOLD}")
        ax.set_yscale("log")
        ax.set(ylabel="Cov_x(E_q[z_d|x])", title=f"Activity per dimension: {active} of {d} active")
        ax.legend(loc="upper right")
        if kl is not None:
            ax = axes[1, 0]
            ax.bar(position, kl[shown].numpy(), color="C2")
            ax.set(ylabel="KL (nats per image)",
                   title=f"KL(q(z_d|x) ‖ p(z_d)) per dimension: {float(kl.sum()):.2f} nats in total")
        for ax in axes.flat:
            step = max(1, len(shown) // 32)
            ax.set_xticks(position[::step], labels[::step])
            ax.set_xlabel("latent dimension d" + (" (most active first)" if d > MAX_BARS else ""))
            ax.grid(alpha=0.3, axis="y")
        png = figure_png(fig)
    caption = (f"Over {run.x_test.shape[0]} test images. A dimension is active when its posterior "
               f"mean varies across images: Cov_x(E_q[z_d|x]) > {ACTIVITY_THRESHOLD} (Burda et al. "
               "2016); an inactive dimension's posterior mean ignores the input, so it carries "
               "(almost) no information about x."
               + (f" Showing the {MAX_BARS} most active of {d} dimensions." if d > MAX_BARS else ""))
    return Section("latent-usage", "Latent dimensions: activity and KL",
                   (Figure(png, "activity and KL per latent dimension", caption),))


@register_section(order=90)
def latent_scatter(run: RunContext) -> Section | None:
    """Posterior means of the test images in 2-D (PCA beyond two dimensions), coloured by label."""
    if run.posterior_means is None:
        return None
    means = run.posterior_means.double().numpy()
    d = means.shape[1]
    if d == 1:
        points = np.stack([means[:, 0], np.random.default_rng(run.seed).uniform(-1, 1, len(means))], 1)
        axis_labels = ("E_q[z1|x]", "random jitter (no meaning)")
        how = "The latent space is 1-D; the vertical position is random jitter."
    elif d == 2:
        points, axis_labels = means, ("E_q[z1|x]", "E_q[z2|x]")
        how = "The latent space is 2-D, shown as it is."
    else:
        points, explained = pca_2d(means)
        axis_labels = (f"principal component 1 ({explained[0]:.0%} of variance)",
                       f"principal component 2 ({explained[1]:.0%} of variance)")
        how = (f"The {d}-D posterior means are projected on their first two principal components "
               f"({explained.sum():.0%} of their variance).")
    labels = run.labels
    with report_style():
        fig, axes = new_figure(6.5)
        ax = axes[0, 0]
        if labels is None:
            ax.scatter(points[:, 0], points[:, 1], s=8, alpha=0.6)
        else:
            classes = sorted(set(labels.tolist()))
            cmap = "tab10" if len(classes) <= 10 else "tab20"
            colours = matplotlib_colours(cmap, len(classes))
            for colour, c in zip(colours, classes, strict=True):
                keep = (labels == c).numpy()
                ax.scatter(points[keep, 0], points[keep, 1], s=8, alpha=0.7, color=colour, label=str(c))
            if len(classes) <= 20:
                ax.legend(title="label", loc="center left", bbox_to_anchor=(1.0, 0.5),
                          markerscale=2.5, frameon=False)
        ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1],
               title=f"Test images in latent space ({len(points)} posterior means)")
        ax.grid(alpha=0.3)
        png = figure_png(fig)
    coloured = " coloured by its label" if labels is not None else ""
    caption = f"Each point is E_q[z | x] of one test image{coloured}. {how}"
    return Section("latent-space", "Latent space", (Figure(png, "test encodings", caption),))


def matplotlib_colours(cmap: str, n: int) -> list[tuple[float, float, float, float]]:
    """n distinct colours of a qualitative matplotlib colour map."""
    colours = matplotlib.colormaps[cmap]
    return [colours(i % colours.N) for i in range(n)]


@torch.no_grad()
def manifold_images(run: RunContext, side: int = MANIFOLD_SIDE
                    ) -> tuple[torch.Tensor, list[float], list[float]]:
    """Decodings over a side × side grid of prior quantiles of a 2-D latent.

    Quantiles u in (0.05 … 0.95) map through the prior's inverse CDF, so each cell covers equal
    prior mass. Cell (row i, column j) decodes z = (z1[j], z2[i]), z2 falling from top to bottom.
    Returns the images [side², C, H, W] row by row, and the grid values z1 and z2.
    """
    prior = run.model.prior()
    u = torch.linspace(0.05, 0.95, side, device=run.device)
    standard = Normal(torch.zeros_like(u), torch.ones_like(u)).icdf(u)
    z1 = prior.mean[0] + standard * prior.stddev[0]
    z2 = prior.mean[1] + standard.flip(0) * prior.stddev[1]
    z = torch.stack([z1.repeat(side), z2.repeat_interleave(side)], -1)
    images = display(run.model, run.model.decode_mean(z)).cpu()
    return images, z1.tolist(), z2.tolist()


@register_section(order=100)
def decoded_manifold(run: RunContext) -> Section | None:
    """For a 2-D latent: E[x | z] over a grid of prior quantiles, z1 across and z2 down."""
    if not run.single_latent or run.model.latent_dim != 2 or not run.images:
        return None
    images, z1, z2 = manifold_images(run)
    with report_style():
        fig, axes = new_figure(8.0)
        ax = axes[0, 0]
        row_pitch, col_pitch = show_grid(ax, images, MANIFOLD_SIDE)
        ticks = list(range(0, MANIFOLD_SIDE, 2))
        centres_x = cell_centres(MANIFOLD_SIDE, col_pitch)
        centres_y = cell_centres(MANIFOLD_SIDE, row_pitch)
        ax.set_xticks([centres_x[i] for i in ticks], [f"{z1[i]:.2f}" for i in ticks])
        ax.set_yticks([centres_y[i] for i in ticks], [f"{z2[i]:.2f}" for i in ticks])
        ax.set(xlabel="z1 (prior quantiles from 5 % to 95 %)",
               ylabel="z2 (prior quantiles, 95 % at the top)")
        png = figure_png(fig)
    figure = Figure(png, "decoded manifold",
                    f"Decoder means E[x | z] on a {MANIFOLD_SIDE}×{MANIFOLD_SIDE} grid of z whose "
                    "coordinates are equally spaced quantiles of the prior, so each cell covers "
                    "equal prior probability.")
    return Section("manifold", "Decoded manifold (2-D latent)", (figure,))
