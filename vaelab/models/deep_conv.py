"""The `deep-conv` architecture: a DeepVAE (vaelab.models.deep) of convolutional cells on feature
maps at several resolutions — the NVAE / VDVAE shape, for GPUs.

Sizes from the model config: `hidden[0]` channels of the state and of every feature map;
`len(conv_channels)` halvings of the image side, so the groups sit at side/2, side/4, ...
(the top groups at the coarsest); `groups` latent groups of `latent_dim` channels each, spread
over the resolutions (the coarsest takes any remainder). Between resolutions the state is
upsampled ×2 (a group's `resize`). The image side must be divisible by 2^len(conv_channels).
On the 2-core CPU the vector hierarchy (`deep`) is the one to use: a conv stack of width 32 at
28×28 trains at ~140 images/s there (issue 26).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from vaelab.distributions.families import make_family
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.deep import DeepVAE, TopDownGroup
from vaelab.models.deep_networks import DEFAULT_GROUPS, ScaleInput, WholeModelArchitecture
from vaelab.nn.mlp import make_activation

if TYPE_CHECKING:
    from vaelab.models.model_config import ModelConfig


class ConvResidual(nn.Module):
    """h + conv(act(conv(act(h)))), 3×3, width-preserving."""

    def __init__(self, channels: int, activation: str) -> None:
        super().__init__()
        self.net = nn.Sequential(make_activation(activation), nn.Conv2d(channels, channels, 3, padding=1),
                                 make_activation(activation), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.net(h)


def groups_per_level(groups: int, levels: int) -> list[int]:
    """How many groups sit at each resolution, finest first; the coarsest takes the remainder."""
    if groups < levels:
        raise ValueError(f"deep-conv: {groups} latent groups cannot cover {levels} resolutions "
                         f"(len(conv_channels)); give at least {levels} groups")
    share = [groups // levels] * levels
    share[-1] += groups - sum(share)
    return share


def check_sides(data_shape: tuple[int, ...], levels: int) -> None:
    """The image's sides must halve `levels` times exactly."""
    if len(data_shape) != 3:
        raise ValueError(f"deep-conv models images [C, H, W]; got data of shape {list(data_shape)}")
    factor = 2 ** levels
    _, height, width = data_shape
    if height % factor or width % factor:
        raise ValueError(f"deep-conv: a {height}×{width} image does not divide into {levels} halvings "
                         f"(sides must be multiples of {factor}); use fewer conv_channels or resize "
                         "the images (--image-size)")


def build_deep_conv_vae(config: ModelConfig, data_shape: tuple[int, ...]) -> DeepVAE:
    """A convolutional DeepVAE for images of `data_shape` (see the module docstring)."""
    levels = len(config.conv_channels)
    check_sides(data_shape, levels)
    family = make_family(config.likelihood, config.fixed_scale)
    in_scale = 1.0 / 255.0 if family.data_kind == "byte" else 1.0
    per_level = groups_per_level(config.groups or DEFAULT_GROUPS, levels)
    width, c, act = config.hidden[0], config.latent_dim, config.activation
    in_channels, height, side = data_shape[0], data_shape[1], data_shape[2]
    bottom_up: list[nn.Module] = []
    for level, count in enumerate(per_level):  # finest first: the groups next to the data
        first = ([ScaleInput(in_scale), nn.Conv2d(in_channels, width, 3, padding=1)] if level == 0 else [])
        down = [*first, make_activation(act), nn.Conv2d(width, width, 4, stride=2, padding=1),
                ConvResidual(width, act)]
        bottom_up.append(nn.Sequential(*down))
        bottom_up += [ConvResidual(width, act) for _ in range(count - 1)]
    top_down: list[TopDownGroup] = []
    for level in reversed(range(levels)):  # coarsest first
        shape = (c, height // 2 ** (level + 1), side // 2 ** (level + 1))
        for index in range(per_level[level]):
            finer = index == 0 and level != levels - 1  # the first group of a finer resolution
            resize = nn.Upsample(scale_factor=2, mode="nearest") if finer else None
            top_down.append(TopDownGroup(
                prior_head=nn.Conv2d(width, 2 * c, 1),
                posterior_head=nn.Conv2d(2 * width, 2 * c, 1),
                cell=nn.Sequential(nn.Conv2d(width + c, width, 3, padding=1), make_activation(act),
                                   nn.Conv2d(width, width, 3, padding=1)),
                latent_shape=shape, resize=resize))
    decoder_net = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), make_activation(act),
                                nn.Conv2d(width, width, 3, padding=1), make_activation(act),
                                nn.Conv2d(width, family.params_per_element * in_channels, 3, padding=1))
    decoder = ConditionalDistribution(decoder_net, family, data_shape, (width, height // 2, side // 2))
    coarsest = (width, height // 2 ** levels, side // 2 ** levels)
    return DeepVAE(bottom_up, top_down, torch.zeros(coarsest), decoder)


class DeepConvArchitecture(WholeModelArchitecture):
    """`model.architecture = "deep-conv"`: the whole model is a convolutional DeepVAE."""

    name: ClassVar[str] = "deep-conv"

    @classmethod
    def build(cls, config: ModelConfig, data_shape: tuple[int, ...]) -> DeepVAE:
        return build_deep_conv_vae(config, data_shape)


__all__ = ["DeepConvArchitecture", "build_deep_conv_vae", "check_sides", "groups_per_level"]
