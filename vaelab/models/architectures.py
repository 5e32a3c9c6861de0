"""Architectures: which networks map x to the guide's parameters and z to the likelihood's.

A frame VAE's architecture (`model.architecture`, registered in `vaelab.components.architectures`)
supplies its encoder and decoder networks; a state-space model's (`model.architecture` of an ssm
run, `vaelab.components.ssm_architectures`) its frame encoder and emitter network. The sizes at
the ends come from the families: the encoder emits what the guide family asks for
(`num_params(latent_dim)`), the decoder `params_per_element` numbers per pixel. Each class
builds its networks in the order the builders always did (encoder, then decoder, for frame
models): the random initial weights of a seeded run depend on it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from torch import nn

from vaelab.nn.conv import ConvDecoder, ConvEncoder
from vaelab.nn.keypoints import KeypointEncoder
from vaelab.nn.mlp import MLP

if TYPE_CHECKING:
    from vaelab.models.model_config import ModelConfig
    from vaelab.models.ssm_config import SSMConfig


class Architecture(ABC):
    """A frame VAE's networks: x [B, *data_shape] -> [B, encoder_out] and
    z [B, latent_dim] -> [B, params_per_element · prod(data_shape)] (any layout reshaping to it)."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def networks(cls, config: ModelConfig, data_shape: tuple[int, ...], encoder_out: int,
                 params_per_element: int, in_scale: float) -> tuple[nn.Module, nn.Module]:
        """(encoder network, decoder network), freshly initialised in that order; `in_scale`
        multiplies the encoder's input (1/255 for 8-bit pixels)."""


class MLPArchitecture(Architecture):
    """Fully connected encoder and decoder, the decoder's widths the encoder's reversed."""

    name = "mlp"

    @classmethod
    def networks(cls, config: ModelConfig, data_shape: tuple[int, ...], encoder_out: int,
                 params_per_element: int, in_scale: float) -> tuple[nn.Module, nn.Module]:
        encoder = MLP(data_shape, config.hidden, encoder_out, config.activation, in_scale)
        decoder = MLP((config.latent_dim,), tuple(reversed(config.hidden)),
                      params_per_element * math.prod(data_shape), config.activation)
        return encoder, decoder


class ConvArchitecture(Architecture):
    """Convolutional encoder and transposed-convolution decoder for images [C, H, W]; one fully
    connected layer of `hidden[0]` units (256 when none) between the convolutions and z."""

    name = "conv"

    @classmethod
    def networks(cls, config: ModelConfig, data_shape: tuple[int, ...], encoder_out: int,
                 params_per_element: int, in_scale: float) -> tuple[nn.Module, nn.Module]:
        if len(data_shape) != 3:
            raise ValueError(f"model.architecture: 'conv' needs image data [C, H, W], got {data_shape}")
        hidden = config.hidden[0] if config.hidden else 256
        c, h, w = data_shape
        encoder = ConvEncoder(data_shape, encoder_out, config.conv_channels, hidden, config.activation,
                              in_scale)
        decoder = ConvDecoder(config.latent_dim, (params_per_element * c, h, w),
                              tuple(reversed(config.conv_channels)), hidden, config.activation)
        return encoder, decoder


class FrameArchitecture(ABC):
    """A state-space model's networks: the emitter's z-features [B, emit_in] ->
    [B, params_per_element · prod(frame_shape)] and the guide's frame encoder
    [B, *frame_shape] -> e [B, E] (the last `skip` features of e: a keypoint the guide reads
    directly)."""

    name: ClassVar[str]

    @classmethod
    def decoder(cls, config: SSMConfig, emit_in: int, params_per_element: int,
                frame_shape: tuple[int, int, int]) -> nn.Module:
        """Fully connected, `decoder_hidden` wide (unless the architecture says otherwise)."""
        return MLP((emit_in,), config.decoder_hidden, params_per_element * math.prod(frame_shape),
                   config.activation)

    @classmethod
    @abstractmethod
    def encoder(cls, config: SSMConfig, frame_shape: tuple[int, int, int],
                in_scale: float) -> tuple[nn.Module, int, int]:
        """(network, E = its output features, skip)."""


class KeypointFrames(FrameArchitecture):
    """Frames encoded by a spatial-softmax keypoint network (its keypoint skipped to the combiner),
    emitted by an MLP."""

    name = "keypoint"

    @classmethod
    def encoder(cls, config: SSMConfig, frame_shape: tuple[int, int, int],
                in_scale: float) -> tuple[nn.Module, int, int]:
        network = KeypointEncoder(frame_shape, config.encoder_hidden[:-1], config.encoder_hidden[-1],
                                  config.activation, in_scale)
        return network, network.out_features, 2


class MLPFrames(FrameArchitecture):
    """Frames encoded and emitted by MLPs."""

    name = "mlp"

    @classmethod
    def encoder(cls, config: SSMConfig, frame_shape: tuple[int, int, int],
                in_scale: float) -> tuple[nn.Module, int, int]:
        network = nn.Sequential(MLP(frame_shape, config.encoder_hidden[:-1], config.encoder_hidden[-1],
                                    config.activation, in_scale), nn.ReLU())
        return network, config.encoder_hidden[-1], 0


class ConvFrames(FrameArchitecture):
    """Frames encoded by convolutions and emitted by transposed convolutions."""

    name = "conv"

    @classmethod
    def decoder(cls, config: SSMConfig, emit_in: int, params_per_element: int,
                frame_shape: tuple[int, int, int]) -> nn.Module:
        c, h, w = frame_shape
        return ConvDecoder(emit_in, (params_per_element * c, h, w), (64, 32), config.decoder_hidden[-1],
                           config.activation)

    @classmethod
    def encoder(cls, config: SSMConfig, frame_shape: tuple[int, int, int],
                in_scale: float) -> tuple[nn.Module, int, int]:
        network = ConvEncoder(frame_shape, config.encoder_hidden[-1], (32, 64), config.encoder_hidden[0],
                              config.activation, in_scale)
        return network, config.encoder_hidden[-1], 0


__all__ = [
    "Architecture",
    "ConvArchitecture",
    "ConvFrames",
    "FrameArchitecture",
    "KeypointFrames",
    "MLPArchitecture",
    "MLPFrames",
]
