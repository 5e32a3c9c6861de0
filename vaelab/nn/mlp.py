"""Multilayer perceptron: a tensor of any trailing shape in, a flat parameter vector out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}
"""The nonlinearities a network may use, by name (`--activation`)."""


def make_activation(name: str) -> nn.Module:
    """Activation module by name (one of ACTIVATIONS)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class ScaledInputNetwork(nn.Module):
    """A sequence of layers applied to `in_scale` · x: networks can read 8-bit pixels (0..255)
    while the likelihood keeps modelling them in their own units."""

    def __init__(self, layers: Sequence[nn.Module], in_scale: float = 1.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.in_scale = in_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_scale != 1.0:
            x = x * self.in_scale
        return self.layers(x)


class MLP(ScaledInputNetwork):
    """x [N, *in_shape] -> η [N, out_features] through fully connected hidden layers.

    `in_scale` multiplies the input first, so a network can read 8-bit pixels (0..255)
    while the likelihood keeps modelling them in their own units.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        in_scale: float = 1.0,
    ) -> None:
        in_features = math.prod(in_shape)
        layers: list[nn.Module] = [nn.Flatten()] if len(in_shape) > 1 else []
        for width in hidden:
            layers += [nn.Linear(in_features, width), make_activation(activation)]
            in_features = width
        layers.append(nn.Linear(in_features, out_features))
        super().__init__(layers, in_scale)
