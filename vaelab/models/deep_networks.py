"""The `deep` architecture: a DeepVAE (vaelab.models.deep) of fully connected residual cells.

Chosen for the 2-core CPU the benchmarks run on (bench/README.md, "Deep hierarchical VAEs"):
at MNIST's size a top-down hierarchy of vector groups on a state of width W costs a few W×W
matrix products per group, where convolutional cells at 28×28 cost an order of magnitude more
per image. Sizes from the model config: `groups` latent groups of `latent_dim` each, the state
and every cell `hidden[0]` wide, `len(hidden)` residual blocks in each bottom-up stage.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from vaelab.distributions.families import make_family
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.deep import DeepVAE, TopDownGroup
from vaelab.nn.mlp import make_activation

if TYPE_CHECKING:
    from vaelab.models.model_config import ModelConfig

#: latent groups when the config names none
DEFAULT_GROUPS = 4


class ResidualBlock(nn.Module):
    """h + W₂ act(W₁ act(h)): a width-preserving fully connected residual block."""

    def __init__(self, width: int, activation: str, out_scale: float = 1.0) -> None:
        super().__init__()
        self.net = nn.Sequential(make_activation(activation), nn.Linear(width, width),
                                 make_activation(activation), nn.Linear(width, width))
        with torch.no_grad():
            self.net[-1].weight.mul_(out_scale)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.net(h)


def _head(width_in: int, width: int, out: int, activation: str, out_scale: float = 1.0) -> nn.Sequential:
    """act → Linear(width_in, width) → act → Linear(width, out), the last layer's weights scaled."""
    head = nn.Sequential(make_activation(activation), nn.Linear(width_in, width),
                         make_activation(activation), nn.Linear(width, out))
    with torch.no_grad():
        head[-1].weight.mul_(out_scale)
    return head


def build_deep_vae(config: ModelConfig, data_shape: tuple[int, ...]) -> DeepVAE:
    """A DeepVAE for data of `data_shape` as the config sizes it (see the module docstring).

    The guide heads start near zero (Δ ≈ 0: q = p, no KL) and each cell's update is scaled by
    1/√G, so the state's variance does not grow with depth (VDVAE's initialisation)."""
    family = make_family(config.likelihood, config.fixed_scale)
    in_scale = 1.0 / 255.0 if family.data_kind == "byte" else 1.0
    groups = config.groups or DEFAULT_GROUPS
    width, d, act = config.hidden[0], config.latent_dim, config.activation
    blocks = max(1, len(config.hidden))
    cell_scale = 1.0 / math.sqrt(groups)
    bottom_up: list[nn.Module] = []
    for stage in range(groups):
        layers: list[nn.Module] = []
        if stage == 0:
            layers += [nn.Flatten(), _Scale(in_scale), nn.Linear(math.prod(data_shape), width)]
        layers += [ResidualBlock(width, act) for _ in range(blocks if stage == 0 else 1)]
        bottom_up.append(nn.Sequential(*layers))
    top_down = [TopDownGroup(prior_head=_head(width, width, 2 * d, act, 0.1),
                             posterior_head=_head(2 * width, width, 2 * d, act, 0.1),
                             cell=_head(width + d, width, width, act, cell_scale),
                             latent_shape=(d,))
                for _ in range(groups)]
    decoder_net = _head(width, width, family.params_per_element * math.prod(data_shape), act)
    decoder = ConditionalDistribution(decoder_net, family, data_shape, (width,))
    return DeepVAE(bottom_up, top_down, torch.zeros(width), decoder)


class _Scale(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.scale == 1.0 else x * self.scale


class DeepArchitecture:
    """`model.architecture = "deep"`: the whole model is a DeepVAE (not an encoder and decoder
    around one latent), built by `build`."""

    name: ClassVar[str] = "deep"

    @classmethod
    def build(cls, config: ModelConfig, data_shape: tuple[int, ...]) -> DeepVAE:
        return build_deep_vae(config, data_shape)

    @classmethod
    def networks(cls, *args: object, **kwargs: object) -> tuple[nn.Module, nn.Module]:
        raise ValueError("the deep architecture builds a whole hierarchy (DeepArchitecture.build), "
                         "not an encoder and decoder around one latent")


__all__ = ["DEFAULT_GROUPS", "DeepArchitecture", "ResidualBlock", "build_deep_vae"]
