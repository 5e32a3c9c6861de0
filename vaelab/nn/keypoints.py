"""An image encoder with a spatial soft-argmax keypoint (Finn et al. 2016, deep spatial autoencoders).

x [N, C, H, W] -> [MLP features (F), keypoint (2)]: the keypoint is the expected pixel position
(x, y) in [−1, 1]² under a softmax over the pixels of a · (mean intensity), a > 0 learned: the
centroid of the bright object. It is a fixed, rotation-respecting measurement of position (a
learned convolution in its place could shift the centroid, and a state-space model used that to
warp its angle to suit a wrong rule); a pendulum's keypoint circles the pivot once per turn.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vaelab.nn.mlp import MLP


class SpatialSoftArgmax(nn.Module):
    """Logit maps [N, K, H, W] -> expected positions [N, 2K] = (x_1, y_1, ..., x_K, y_K) in [−1, 1]."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("xs", (torch.arange(width) + 0.5) / width * 2 - 1, persistent=False)
        self.register_buffer("ys", (torch.arange(height) + 0.5) / height * 2 - 1, persistent=False)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        n, k, h, w = logits.shape
        p = torch.softmax(logits.reshape(n, k, h * w), -1).reshape(n, k, h, w)
        x = (p.sum(-2) * self.xs).sum(-1)
        y = (p.sum(-1) * self.ys).sum(-1)
        return torch.stack([x, y], -1).reshape(n, 2 * k)


class KeypointEncoder(nn.Module):
    """x [N, C, H, W] -> [relu(MLP(x)) (out_features), keypoint (2)]."""

    def __init__(
        self,
        in_shape: Sequence[int],
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        in_scale: float = 1.0,
        sharpness: float = 10.0,
    ) -> None:
        super().__init__()
        _, h, w = in_shape
        self.features = MLP(in_shape, hidden, out_features, activation, in_scale)
        self.log_sharpness = nn.Parameter(torch.tensor(float(sharpness)).log())
        self.soft_argmax = SpatialSoftArgmax(h, w)
        self.in_scale = in_scale
        self.out_features = out_features + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.log_sharpness.exp() * (x * self.in_scale).mean(1, keepdim=True)
        return torch.cat([torch.relu(self.features(x)), self.soft_argmax(logits)], -1)
