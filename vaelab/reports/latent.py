"""Latent-space geometry for pictures: interpolation and a 2-D PCA view.

The statistics (active units, KL per dimension) live in vaelab.evaluation.diagnostics and are
re-exported here for the report sections.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaelab.evaluation.diagnostics import (  # noqa: F401 (re-exported for the sections)
    ACTIVITY_THRESHOLD,
    active_units,
    is_single_latent,
    kl_per_dimension,
    posterior_means,
    unit_activity,
)


def lerp(a: Any, b: Any, t: torch.Tensor) -> Any:
    """(1 − t) a + t b for latents that are tensors [B, d] or tuples of them; t has shape [T]:
    the result has shape [B * T, d] (each row of a followed by its T points)."""
    if isinstance(a, tuple):
        return tuple(lerp(u, v, t) for u, v in zip(a, b, strict=True))
    t = t.view(1, -1, 1)
    return (a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t).flatten(0, 1)


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points [N, D] (D >= 2) on their first two principal components.

    Returns the projection [N, 2] and the fraction of variance each component explains.
    """
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"PCA to 2-D needs points [N, D >= 2], got shape {points.shape}")
    centred = points - points.mean(0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    explained = variance[:2] / max(float(variance.sum()), 1e-30)
    return centred @ vt[:2].T, explained
