"""The `deep` architecture: a DeepVAE (vaelab.models.deep) of fully connected residual cells.

Chosen for the 2-core CPU the benchmarks run on (bench/README.md, "Deep hierarchical VAEs"):
at MNIST's size a top-down hierarchy of vector groups on a state of width W costs a few W×W
matrix products per group, where convolutional cells at 28×28 cost an order of magnitude more
per image. Sizes from the model config: `groups` latent groups of `latent_dim` each, the state
and every layer `hidden[0]` wide, `len(hidden)` layers from the data to the first feature.
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


def build_deep_vae(config: ModelConfig, data_shape: tuple[int, ...]) -> DeepVAE:
    """A DeepVAE for data of `data_shape` as the config sizes it (see the module docstring).

    Bottom-up: x → W (`len(hidden)` layers of ReLU), then one W → W layer per group above the
    first. Per group: a linear prior head (state → μ, log σ), a linear guide head ((state, h) →
    Δμ, Δlog σ) and a two-layer cell ((state, z) → state update, z entering linearly). Decoder:
    two layers from the last state. Measured against deeper heads and scaled initialisations on
    this CPU (bench/README.md): these learn fastest per step and per second."""
    family = make_family(config.likelihood, config.fixed_scale)
    in_scale = 1.0 / 255.0 if family.data_kind == "byte" else 1.0
    groups = config.groups or DEFAULT_GROUPS
    width, d, act = config.hidden[0], config.latent_dim, config.activation

    def norm() -> list[nn.Module]:  # none at "none", so models without it keep their state-dict keys
        return [nn.BatchNorm1d(width)] if config.normalization == "batch" else []

    stem: list[nn.Module] = [nn.Flatten(), ScaleInput(in_scale), nn.Linear(math.prod(data_shape), width),
                             *norm(), make_activation(act)]
    for _ in range(len(config.hidden) - 1):
        stem += [nn.Linear(width, width), *norm(), make_activation(act)]
    bottom_up: list[nn.Module] = [nn.Sequential(*stem)]
    bottom_up += [nn.Sequential(nn.Linear(width, width), *norm(), make_activation(act))
                  for _ in range(groups - 1)]
    top_down = [TopDownGroup(prior_head=nn.Linear(width, 2 * d),
                             posterior_head=nn.Linear(2 * width, 2 * d),
                             cell=nn.Sequential(nn.Linear(width + d, width), *norm(), make_activation(act),
                                                *_dropout(config.dropout), nn.Linear(width, width)),
                             latent_shape=(d,))
                for _ in range(groups)]
    decoder_net = nn.Sequential(make_activation(act), nn.Linear(width, width), *norm(), make_activation(act),
                                *_dropout(config.dropout),
                                nn.Linear(width, family.params_per_element * math.prod(data_shape)))
    decoder = ConditionalDistribution(decoder_net, family, data_shape, (width,))
    return DeepVAE(bottom_up, top_down, torch.zeros(width), decoder)


def _dropout(rate: float) -> list[nn.Module]:
    """A dropout layer at `rate`, or none at 0 (so models without it keep their state-dict keys)."""
    return [nn.Dropout(rate)] if rate > 0 else []


class ScaleInput(nn.Module):
    """x ↦ scale · x (8-bit pixels read as [0, 1] by the first layer)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.scale == 1.0 else x * self.scale


class WholeModelArchitecture:
    """An architecture that builds a whole model (`build`), not an encoder and a decoder around one
    latent (`networks`, which it refuses)."""

    name: ClassVar[str]

    @classmethod
    def networks(cls, *args: object, **kwargs: object) -> tuple[nn.Module, nn.Module]:
        raise ValueError(f"the {cls.name} architecture builds a whole hierarchy ({cls.__name__}.build), "
                         "not an encoder and decoder around one latent")


class DeepArchitecture(WholeModelArchitecture):
    """`model.architecture = "deep"`: the whole model is a DeepVAE of vector groups."""

    name: ClassVar[str] = "deep"

    @classmethod
    def build(cls, config: ModelConfig, data_shape: tuple[int, ...]) -> DeepVAE:
        return build_deep_vae(config, data_shape)


__all__ = ["DEFAULT_GROUPS", "DeepArchitecture", "ScaleInput", "WholeModelArchitecture", "build_deep_vae"]
