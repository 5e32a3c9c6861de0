"""How a hierarchical VAE's guide runs (`model.inference`): bottom-up (Burda et al. 2016) or
top-down (the ladder VAE, Sønderby et al. 2016). Registered in `vaelab.components.inference`.

Both share the generative model and are handed its parts, built first by
`vaelab.models.config.build_hierarchical_vae` together with the bottom-up encoders (built for
both, so that a seeded run's initial weights do not depend on the choice); each assembles the
model with its guide.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from torch import nn

from vaelab.distributions.families import GaussianFamily
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.hierarchical import HierarchicalVAE
from vaelab.models.ladder import LadderVAE
from vaelab.models.latent_chain import LatentChainModel
from vaelab.nn.mlp import MLP, make_activation

if TYPE_CHECKING:
    from vaelab.models.model_config import ModelConfig


class Inference(ABC):
    """Puts a hierarchical generative model and a guide together."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def assemble(cls, config: ModelConfig, data_shape: tuple[int, ...], dims: tuple[int, ...],
                 in_scale: float, prior: nn.Module, transitions: Sequence[ConditionalDistribution],
                 decoder: ConditionalDistribution,
                 encoders: Sequence[ConditionalDistribution]) -> LatentChainModel:
        """The model over latent sizes `dims` (bottom to top); `encoders` are the bottom-up
        q(z_1 | x), q(z_{l+1} | z_l)."""


class BottomUpInference(Inference):
    """q(z_1 | x) ∏ q(z_{l+1} | z_l): the stacked encoders themselves."""

    name = "bottom-up"

    @classmethod
    def assemble(cls, config: ModelConfig, data_shape: tuple[int, ...], dims: tuple[int, ...],
                 in_scale: float, prior: nn.Module, transitions: Sequence[ConditionalDistribution],
                 decoder: ConditionalDistribution,
                 encoders: Sequence[ConditionalDistribution]) -> HierarchicalVAE:
        return HierarchicalVAE(prior, transitions, decoder, encoders)


class TopDownInference(Inference):
    """The ladder guide: bottom-up deterministic blocks and, per layer, a Gaussian message
    N(μ̂_l, σ̂_l²) combined top-down with the generative conditionals."""

    name = "top-down"
    #: how the message meets the generative conditional (vaelab.models.ladder.COMBINERS)
    combine = "precision"

    @classmethod
    def assemble(cls, config: ModelConfig, data_shape: tuple[int, ...], dims: tuple[int, ...],
                 in_scale: float, prior: nn.Module, transitions: Sequence[ConditionalDistribution],
                 decoder: ConditionalDistribution,
                 encoders: Sequence[ConditionalDistribution]) -> LadderVAE:
        act = config.activation
        width_first = config.hidden[-1] if config.hidden else 2 * dims[0]
        width_upper = config.upper_hidden[-1] if config.upper_hidden else 2 * dims[0]
        blocks: list[nn.Module] = [MLP(data_shape, config.hidden[:-1], width_first, act, in_scale)]
        blocks += [MLP((width_first if i == 0 else width_upper,), config.upper_hidden[:-1], width_upper,
                       act) for i in range(len(dims) - 1)]
        gaussian = GaussianFamily(bound_log_scale=True)
        messages = []
        for i, d in enumerate(dims):
            width = width_first if i == 0 else width_upper
            head = nn.Sequential(make_activation(act), nn.Linear(width, 2 * d))
            messages.append(ConditionalDistribution(head, gaussian, (d,), (width,)))
        return LadderVAE(prior, transitions, decoder, blocks, messages, cls.combine)


class ResidualTopDownInference(TopDownInference):
    """The ladder's top-down guide with NVAE's residual-normal posteriors, q = N(μ_p + μ̂, (σ_p σ̂)²),
    in place of precision weighting: on MNIST with Burda's two-layer networks the precision-weighted
    ladder stays at the mean image (bound ≈ −208 nats, KL ≈ 0) where this one learns."""

    name = "residual"
    combine = "residual"


__all__ = ["BottomUpInference", "Inference", "ResidualTopDownInference", "TopDownInference"]
