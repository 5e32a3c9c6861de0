"""Generative models with their guides: p(z), p(x | z), q(z | x). No losses, devices or files."""

from __future__ import annotations

from vaelab._lazy import lazy_exports

#: public name -> module that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "LatentVariableModel": "vaelab.models.base",
    "SingleLatentModel": "vaelab.models.base",
    "ConditionalDistribution": "vaelab.models.conditional",
    "ARCHITECTURES": "vaelab.models.config",
    "ModelConfig": "vaelab.models.model_config",
    "build_hierarchical_vae": "vaelab.models.config",
    "build_model": "vaelab.models.config",
    "build_prior": "vaelab.models.config",
    "build_vae": "vaelab.models.config",
    "make_prior": "vaelab.models.from_networks",
    "wrap_networks": "vaelab.models.from_networks",
    "GraphModel": "vaelab.models.graph",
    "Latent": "vaelab.models.graph_nodes",
    "Observed": "vaelab.models.graph_nodes",
    "HierarchicalVAE": "vaelab.models.hierarchical",
    "DeepVAE": "vaelab.models.deep",
    "TopDownGroup": "vaelab.models.deep",
    "LadderVAE": "vaelab.models.ladder",
    "LinearGaussianModel": "vaelab.models.linear_gaussian",
    "SequenceBatch": "vaelab.data.sequences",
    "SSMConfig": "vaelab.models.ssm_config",
    "StateSpaceModel": "vaelab.models.ssm",
    "build_ssm": "vaelab.models.ssm",
    "VAE": "vaelab.models.vae",
}

__all__ = [
    "ARCHITECTURES",
    "ConditionalDistribution",
    "DeepVAE",
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
    "TopDownGroup",
    "VAE",
    "build_hierarchical_vae",
    "build_model",
    "build_prior",
    "build_ssm",
    "build_vae",
    "make_prior",
    "wrap_networks",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
