"""Pictures of sequences: frame strips (PNG) and truth-beside-prediction animations (GIF, PIL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaelab.evaluation.plots import save_image_grid


def save_strips(rows: list[torch.Tensor], path: Path, every: int = 1, zoom: int = 2) -> Path:
    """One row per sequence [T, C, H, W] (values in [0, 1]), every `every`-th frame, as a PNG grid."""
    if not rows:
        raise ValueError("save_strips needs at least one sequence")
    frames = [row[::every] for row in rows]
    width = max(f.shape[0] for f in frames)
    padded = [torch.cat([f, torch.ones(width - f.shape[0], *f.shape[1:])]) if f.shape[0] < width else f
              for f in frames]
    return save_image_grid(torch.cat(padded), Path(path), columns=width, zoom=zoom)


def _to_pil(frame: np.ndarray, zoom: int) -> Image.Image:
    image = Image.fromarray(np.rint(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8), mode="L")
    return image.resize((image.width * zoom, image.height * zoom), Image.NEAREST)


def save_animation(panels: list[torch.Tensor], path: Path, zoom: int = 3, frame_ms: int = 80,
                   gap: int = 2) -> Path:
    """An animated GIF of sequences side by side: `panels` are [T, C, H, W] tensors in [0, 1]
    (e.g. truth, prediction, truth, prediction, ...), shown frame by frame in one row."""
    if not panels:
        raise ValueError("save_animation needs at least one sequence")
    steps = min(p.shape[0] for p in panels)
    h, w = panels[0].shape[-2:]
    images = []
    for t in range(steps):
        canvas = np.full((h, len(panels) * (w + gap) - gap), 0.5, dtype=np.float32)
        for i, panel in enumerate(panels):
            canvas[:, i * (w + gap):i * (w + gap) + w] = panel[t, 0].detach().float().cpu().numpy()
        images.append(_to_pil(canvas, zoom))
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return path
