"""Networks f_DNN: tensors in, distribution parameters out. No probability, no training."""

from vaelab.nn.conv import ConvDecoder, ConvEncoder
from vaelab.nn.mlp import ACTIVATIONS, MLP, make_activation

__all__ = ["ACTIVATIONS", "MLP", "ConvDecoder", "ConvEncoder", "make_activation"]
