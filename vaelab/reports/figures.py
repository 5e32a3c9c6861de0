"""Figures for reports as PNG bytes: one matplotlib style, and image grids drawn pixel-exact.

Plots are 8 inches wide at 100 dpi (800 px, the page's content width) with fonts of at least
10 pt, so they read at the page's width without zooming. Image grids skip matplotlib and are
enlarged by whole pixels, so digits stay crisp.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402
from PIL import Image  # noqa: E402

from vaelab.evaluation.plots import image_grid  # noqa: E402

WIDTH_INCHES = 8.0
DPI = 100
#: the widest an image grid is enlarged to, in pixels (the page's content width)
GRID_TARGET_WIDTH = 800

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.grid": False,
}


@contextmanager
def report_style() -> Iterator[None]:
    """matplotlib settings for every report plot."""
    with plt.rc_context(STYLE):
        yield


def new_figure(height: float, rows: int = 1, columns: int = 1) -> tuple[MplFigure, np.ndarray]:
    """A figure 8 inches wide with a rows × columns array of axes (always a 2-D array)."""
    fig, axes = plt.subplots(rows, columns, figsize=(WIDTH_INCHES, height), squeeze=False)
    return fig, axes


def figure_png(fig: MplFigure) -> bytes:
    """The figure as PNG bytes; closes it."""
    buffer = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def array_png(array: np.ndarray) -> bytes:
    """An image array in [0, 1], [H, W] or [H, W, 3], as 8-bit PNG bytes."""
    pixels = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def grid_array(images: torch.Tensor, columns: int | None = None,
               target_width: int = GRID_TARGET_WIDTH) -> np.ndarray:
    """Tile images [N, C, H, W] in [0, 1]; enlarge by the whole factor nearest the target width."""
    array = image_grid(images, columns)
    zoom = max(1, round(target_width / array.shape[1]))
    return array.repeat(zoom, axis=0).repeat(zoom, axis=1)


def grid_png(images: torch.Tensor, columns: int | None = None,
             target_width: int = GRID_TARGET_WIDTH) -> bytes:
    """An image grid as PNG bytes (see `grid_array`)."""
    return array_png(grid_array(images, columns, target_width))


def show_grid(ax: plt.Axes, images: torch.Tensor, columns: int) -> tuple[float, float]:
    """Draw a grid of images [N, C, H, W] on `ax` (no enlargement; matplotlib scales it).

    Returns the (row, column) pitch in array pixels, for placing tick labels at cell centres.
    """
    array = image_grid(images, columns)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    _, _, h, w = images.shape
    return float(h + 2), float(w + 2)


def cell_centres(count: int, pitch: float, pad: int = 2) -> list[float]:
    """Array coordinates of the centres of `count` grid cells with the given pitch."""
    return [pad + i * pitch + (pitch - pad) / 2 - 0.5 for i in range(count)]


def labelled_grid_png(images: torch.Tensor, columns: int, rows: int, column_labels: list[str],
                      xlabel: str) -> bytes:
    """A grid of images [rows·columns, C, H, W] with a label under each column, as PNG bytes:
    for figures whose columns mean something (interpolation steps, classes)."""
    with report_style():
        fig, axes = new_figure(0.62 * rows + 1.0)
        ax = axes[0, 0]
        _, pitch = show_grid(ax, images, columns)
        ax.set_xticks(cell_centres(columns, pitch), column_labels)
        ax.set_yticks([])
        ax.set_xlabel(xlabel)
        return figure_png(fig)
