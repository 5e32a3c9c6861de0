"""Pictures of a run: image grids, training curves and the estimator comparison.

The only module (with reports) that imports matplotlib; it uses the non-interactive Agg
backend so it works on machines without a display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from vaelab.evaluation.estimators import EstimatorRow  # noqa: E402


def image_grid(images: torch.Tensor, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images [N, C, H, W] with values in [0, 1] into one array [H', W'] or [H', W', 3]."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = torch.ones(c, rows * (h + pad) + pad, columns * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    array = grid.permute(1, 2, 0).numpy()
    return array[..., 0] if c == 1 else array


def save_image_grid(images: torch.Tensor, path: Path, columns: int | None = None,
                    zoom: int = 3) -> Path:
    """Write a PNG grid of images [N, C, H, W] in [0, 1], each pixel drawn `zoom`×`zoom`."""
    array = image_grid(images, columns)
    array = array.repeat(zoom, axis=0).repeat(zoom, axis=1)
    plt.imsave(path, array, cmap="gray" if array.ndim == 2 else None, vmin=0.0, vmax=1.0)
    return Path(path)


def plot_training_curves(records: Sequence[dict], path: Path) -> Path:
    """Train/validation bound and the KL term against epoch; for a run that records a validation
    classification error (semi-supervised runs), that error too."""
    epochs = [r["epoch"] for r in records]
    with_error = any(r.get("valid_error") is not None for r in records)
    fig, axes = plt.subplots(1, 3 if with_error else 2, figsize=(15 if with_error else 10, 4))
    ax_bound, ax_kl = axes[0], axes[1]
    if with_error:
        ax_error = axes[2]
        scored = [(r["epoch"], 100 * r["valid_error"]) for r in records if r.get("valid_error") is not None]
        ax_error.plot(*zip(*scored, strict=True), marker="s", color="C1", label="validation error")
        if all("train_labelled_error" in r for r in records):
            ax_error.plot(epochs, [100 * r["train_labelled_error"] for r in records], marker="o",
                          color="C0", label="labelled training error")
        ax_error.set(xlabel="epoch", ylabel="classification error (%)", title="Classification")
        ax_error.legend()
        ax_error.grid(alpha=0.3)
    ax_bound.plot(epochs, [r["train_bound"] for r in records], marker="o", label="train bound")
    if any(r.get("valid_bound") is not None for r in records):
        ax_bound.plot(epochs, [r.get("valid_bound") for r in records], marker="s",
                      label="validation ELBO")
    ax_bound.set(xlabel="epoch", ylabel="bound on log p(x) (nats per example)",
                 title="Training curve")
    ax_bound.legend()
    ax_bound.grid(alpha=0.3)
    if all("train_kl" in r for r in records):
        ax_kl.plot(epochs, [r["train_kl"] for r in records], marker="o", color="C2", label="KL")
        ax_kl.plot(epochs, [-r["train_reconstruction"] for r in records], marker="o", color="C3",
                   label="−E[log p(x|z)]")
        ax_kl.set(xlabel="epoch", ylabel="nats per example", title="ELBO terms")
        ax_kl.legend()
        ax_kl.grid(alpha=0.3)
    else:
        ax_kl.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_estimator_comparison(rows: Sequence[EstimatorRow], path: Path,
                              reference: float | None = None) -> Path:
    """Mean log p(x) estimate against k for both estimators, with ±1 standard-error bars."""
    ks = [r.k for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.errorbar(ks, [r.prior_mean for r in rows], yerr=[r.prior_stderr for r in rows],
                marker="o", capsize=3, label="prior Monte Carlo: z ~ p(z)")
    ax.errorbar(ks, [r.is_mean for r in rows], yerr=[r.is_stderr for r in rows],
                marker="s", capsize=3, label="importance sampling: z ~ q(z|x)")
    if reference is not None:
        ax.axhline(reference, color="gray", linestyle="--", label="reference")
    ax.set_xscale("log")
    ax.set(xlabel="number of samples k", ylabel="estimated log p(x) (nats per example)",
           title="Why inference: estimating log p(x)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
