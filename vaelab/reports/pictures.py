"""What the model draws: samples from the prior, reconstructions, latent interpolations."""

from __future__ import annotations

import torch

from vaelab.evaluation.run import display
from vaelab.reports.blocks import Figure, Section
from vaelab.reports.context import RunContext
from vaelab.reports.figures import grid_png, labelled_grid_png
from vaelab.reports.latent import lerp
from vaelab.reports.sections import register_section

SAMPLES = 64
RECONSTRUCTIONS = 32
INTERPOLATION_PAIRS = 6
INTERPOLATION_STEPS = 10


@register_section(order=40)
def prior_samples(run: RunContext) -> Section | None:
    """A grid of mean images E[x | z] for z ~ p(z)."""
    if not run.images:
        return None
    images = display(run.model, run.model.sample(SAMPLES, run.generator())).cpu()
    figure = Figure(grid_png(images, columns=8), "samples from the prior",
                    f"{SAMPLES} draws z ~ p(z), each shown as the decoder's mean E[x | z] "
                    f"(seed {run.seed}).", pixelated=True)
    return Section("samples", "Samples from the prior", (figure,))


@register_section(order=50)
def reconstructions(run: RunContext) -> Section | None:
    """Test images beside E[x | z] at their posterior mean z = E_q[z | x]."""
    if not run.images:
        return None
    x = run.x_test[:RECONSTRUCTIONS]
    recon = run.model.reconstruct(x)
    pairs = torch.stack([display(run.model, x), display(run.model, recon)], 1).flatten(0, 1).cpu()
    figure = Figure(grid_png(pairs, columns=16), "test images beside their reconstructions",
                    f"{x.shape[0]} test images, each followed (to its right) by its reconstruction "
                    "E[x | z] at z = E_q[z | x].", pixelated=True)
    return Section("reconstructions", "Reconstructions", (figure,))


@torch.no_grad()
def interpolation_images(run: RunContext, pairs: int, steps: int) -> torch.Tensor:
    """Rows [input A, decodings along the segment E_q[z|A] → E_q[z|B], input B], row-major."""
    x = run.x_test[: 2 * pairs]
    t = torch.linspace(0.0, 1.0, steps, device=x.device)
    z = lerp(run.model.encode_mean(x[0::2]), run.model.encode_mean(x[1::2]), t)
    decoded = display(run.model, run.model.decode_mean(z))
    decoded = decoded.view(pairs, steps, *decoded.shape[1:])
    shown = display(run.model, x)
    rows = torch.cat([shown[0::2].unsqueeze(1), decoded, shown[1::2].unsqueeze(1)], 1)
    return rows.flatten(0, 1).cpu()


@register_section(order=60)
def interpolations(run: RunContext) -> Section | None:
    """Decodings of z on the straight line between two test images' posterior means."""
    pairs = min(INTERPOLATION_PAIRS, run.x_test.shape[0] // 2)
    if pairs < 1 or not run.images:
        return None
    images = interpolation_images(run, pairs, INTERPOLATION_STEPS)
    columns = INTERPOLATION_STEPS + 2
    labels = ["A", *[f"{t:.2g}" for t in torch.linspace(0, 1, INTERPOLATION_STEPS).tolist()], "B"]
    png = labelled_grid_png(images, columns, pairs, labels,
                            "t: decoded E[x | z] at z = (1 − t) E_q[z|A] + t E_q[z|B]; A, B = test images")
    figure = Figure(png, "interpolations between test images",
                    f"{pairs} pairs of test images (first and last column) and the decoder's mean "
                    "along the straight line between their posterior means.")
    return Section("interpolations", "Interpolations in latent space", (figure,))
