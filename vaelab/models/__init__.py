"""Generative models with their guides: p(z), p(x | z), q(z | x). No losses, devices or files."""

from vaelab.models.base import LatentVariableModel, SingleLatentModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.config import (
    ARCHITECTURES,
    ModelConfig,
    build_hierarchical_vae,
    build_model,
    build_prior,
    build_vae,
)
from vaelab.models.hierarchical import HierarchicalVAE
from vaelab.models.ladder import LadderVAE
from vaelab.models.linear_gaussian import LinearGaussianModel
from vaelab.models.ssm import SequenceBatch, SSMConfig, StateSpaceModel, build_ssm
from vaelab.models.vae import VAE

__all__ = [
    "ARCHITECTURES",
    "VAE",
    "ConditionalDistribution",
    "HierarchicalVAE",
    "LadderVAE",
    "LatentVariableModel",
    "LinearGaussianModel",
    "ModelConfig",
    "SSMConfig",
    "SequenceBatch",
    "SingleLatentModel",
    "StateSpaceModel",
    "build_hierarchical_vae",
    "build_model",
    "build_prior",
    "build_ssm",
    "build_vae",
]
