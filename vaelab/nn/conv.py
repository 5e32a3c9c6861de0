"""Small convolutional encoder and decoder for images [C, H, W].

Each stride-2 layer halves (encoder) or doubles (decoder) the spatial size; the decoder
starts from ceil(H / 2^L) and crops to the exact image size, so any H, W ≥ 4 works.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from vaelab.nn.mlp import ScaledInputNetwork, make_activation


class ConvEncoder(ScaledInputNetwork):
    """x [N, C, H, W] -> η [N, out_features] via stride-2 convolutions and a linear head."""

    def __init__(
        self,
        in_shape: Sequence[int],
        out_features: int,
        channels: Sequence[int] = (32, 64),
        hidden: int = 256,
        activation: str = "relu",
        in_scale: float = 1.0,
    ) -> None:
        if len(in_shape) != 3:
            raise ValueError(f"ConvEncoder needs image shape [C, H, W], got {tuple(in_shape)}")
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for width in channels:
            layers += [nn.Conv2d(c, width, 4, stride=2, padding=1), make_activation(activation)]
            c = width
            h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"image {tuple(in_shape)} too small for {len(channels)} conv layers")
        layers += [
            nn.Flatten(),
            nn.Linear(c * h * w, hidden),
            make_activation(activation),
            nn.Linear(hidden, out_features),
        ]
        super().__init__(layers, in_scale)


class ConvDecoder(nn.Module):
    """z [N, in_features] -> η [N, C_out, H, W] via a linear stem and transposed convolutions."""

    def __init__(
        self,
        in_features: int,
        out_shape: Sequence[int],
        channels: Sequence[int] = (64, 32),
        hidden: int = 256,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if len(out_shape) != 3:
            raise ValueError(f"ConvDecoder needs output shape [C, H, W], got {tuple(out_shape)}")
        c_out, self.height, self.width = out_shape
        factor = 2 ** len(channels)
        h0, w0 = math.ceil(self.height / factor), math.ceil(self.width / factor)
        self.stem_shape = (channels[0], h0, w0)
        self.stem = nn.Sequential(
            nn.Linear(in_features, hidden),
            make_activation(activation),
            nn.Linear(hidden, channels[0] * h0 * w0),
            make_activation(activation),
        )
        layers: list[nn.Module] = []
        widths = [*channels[1:], c_out]
        c = channels[0]
        for i, width in enumerate(widths):
            layers.append(nn.ConvTranspose2d(c, width, 4, stride=2, padding=1))
            if i < len(widths) - 1:
                layers.append(make_activation(activation))
            c = width
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).reshape(z.shape[0], *self.stem_shape)
        return self.layers(h)[..., : self.height, : self.width]
