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
from vaelab.models.from_networks import make_prior, wrap_networks
from vaelab.models.graph import GraphModel
from vaelab.models.graph_nodes import Latent, Observed
from vaelab.models.hierarchical import HierarchicalVAE
from vaelab.models.ladder import LadderVAE
from vaelab.models.linear_gaussian import LinearGaussianModel
from vaelab.models.ssm import SequenceBatch, SSMConfig, StateSpaceModel, build_ssm
from vaelab.models.vae import VAE

__all__ = [
    "ARCHITECTURES",
    "VAE",
    "ConditionalDistribution",
    "GraphModel",
    "HierarchicalVAE",
    "LadderVAE",
    "Latent",
    "LatentVariableModel",
    "LinearGaussianModel",
    "ModelConfig",
    "Observed",
    "SSMConfig",
    "SequenceBatch",
    "SingleLatentModel",
    "StateSpaceModel",
    "build_hierarchical_vae",
    "build_model",
    "build_prior",
    "build_ssm",
    "build_vae",
    "make_prior",
    "wrap_networks",
]
