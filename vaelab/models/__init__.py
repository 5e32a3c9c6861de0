"""Generative models with their guides: p(z), p(x | z), q(z | x). No losses, devices or files."""

from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.config import ARCHITECTURES, ModelConfig, build_vae
from vaelab.models.linear_gaussian import LinearGaussianModel
from vaelab.models.vae import VAE

__all__ = [
    "ARCHITECTURES",
    "VAE",
    "ConditionalDistribution",
    "LatentVariableModel",
    "LinearGaussianModel",
    "ModelConfig",
    "build_vae",
]
