"""Analytically anti-aliased pictures of a pendulum: a rod and a bob on a black background.

Each shape's pixel coverage is a clipped linear ramp of its signed distance d (negative inside)
at the pixel centre, coverage = clip(½ − d, 0, 1): exact for a straight edge crossing a pixel
along its axis and smooth over about one pixel otherwise, so the picture moves continuously
with θ (sub-pixel motion changes the intensities, which a model can read). The pivot sits at the
image centre; θ = 0 hangs straight down; the bob is at centre + R (sin θ, cos θ) in (x right,
y down) pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Geometry:
    """Sizes as fractions of the image side: rod length R, rod width, bob radius; intensities."""

    rod_length: float = 0.34
    rod_width: float = 0.04
    bob_radius: float = 0.1
    rod_intensity: float = 0.6
    bob_intensity: float = 1.0

    def in_pixels(self, size: int) -> tuple[float, float, float]:
        """(R, half rod width, bob radius) in pixels for an image of side `size`."""
        return self.rod_length * size, 0.5 * max(self.rod_width * size, 1.0), self.bob_radius * size


def bob_position(theta: np.ndarray, size: int, geometry: Geometry = Geometry()) -> np.ndarray:
    """Bob centre (x, y) in pixel coordinates, shape [..., 2]; pixel (i, j) has centre (j+½, i+½)."""
    length, _, _ = geometry.in_pixels(size)
    centre = size / 2.0
    return np.stack([centre + length * np.sin(theta), centre + length * np.cos(theta)], axis=-1)


def _coverage(signed_distance: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


def render(theta: np.ndarray, size: int = 32, geometry: Geometry = Geometry(),
           chunk: int = 4096) -> np.ndarray:
    """Frames float32 [*theta.shape, size, size] with intensities in [0, 1].

    Computed `chunk` frames at a time so memory stays at about chunk × size² × 4 bytes × 8.
    """
    flat = np.asarray(theta, dtype=np.float64).reshape(-1)
    length, half_width, radius = geometry.in_pixels(size)
    centre = size / 2.0
    coords = np.arange(size, dtype=np.float32) + 0.5
    py, px = coords[:, None], coords[None, :]  # [H, 1], [1, W]
    out = np.empty((flat.size, size, size), dtype=np.float32)
    for start in range(0, flat.size, chunk):
        th = flat[start:start + chunk]
        dx = np.sin(th).astype(np.float32)[:, None, None]  # unit rod direction
        dy = np.cos(th).astype(np.float32)[:, None, None]
        rx, ry = px - centre, py - centre  # pixel centre relative to the pivot
        # rod: distance from the pixel centre to the segment pivot -> bob, minus half its width
        along = np.clip(rx * dx + ry * dy, 0.0, length)
        rod_d = np.hypot(rx - along * dx, ry - along * dy) - half_width
        # bob: distance to the disc's centre minus its radius
        bob_d = np.hypot(rx - length * dx, ry - length * dy) - radius
        rod = geometry.rod_intensity * _coverage(rod_d)
        bob = geometry.bob_intensity * _coverage(bob_d)
        out[start:start + th.size] = np.maximum(rod, bob)
    return out.reshape(*np.shape(theta), size, size)


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Intensities in [0, 1] rounded to 8-bit grey levels."""
    return np.rint(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
