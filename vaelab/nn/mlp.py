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

    def forward_parts(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        """The network of cat(parts, -1) for vector inputs split into parts [*batch, d_i] whose
        batch dims broadcast, without building the concatenation: each part's share of the first
        layer is computed at the part's own batch, so a part repeated along a dim (an image
        beside each of C classes, `x.expand(C, ...)`) is multiplied once, not C times."""
        first = self.layers[0]
        if not isinstance(first, nn.Linear) or sum(part.shape[-1] for part in parts) != first.in_features:
            raise ValueError(f"forward_parts needs vector parts whose widths add up to the first "
                             f"layer's {getattr(first, 'in_features', '?')} inputs")
        pre = first.bias
        for part, weight in zip(parts, first.weight.split([part.shape[-1] for part in parts], 1),
                                strict=True):
            pre = pre + nn.functional.linear(unrepeated(part) * self.in_scale, weight)
        return self.layers[1:](pre)


def unrepeated(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` with each batch dim that only repeats its first entry (stride 0, as after
    `expand`) cut to size 1: the same values under broadcasting, computed once."""
    index = tuple(slice(0, 1) if stride == 0 and size > 1 else slice(None)
                  for size, stride in zip(tensor.shape[:-1], tensor.stride()[:-1], strict=True))
    return tensor[index]
