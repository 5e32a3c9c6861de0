"""The seed's building block: p(x | Pa(x)) = Family(η) with η = f_DNN(Pa(x))."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.distributions.families import Family


class ConditionalDistribution(nn.Module):
    """A conditional distribution: a network maps parent values to a family's parameters.

    `parents` has shape [*batch, *parent_shape]; the result is a distribution with batch shape
    `batch` and event shape `event_shape`. Any number of leading batch dimensions works, so
    k importance samples [k, B, d] pass through unchanged.
    """

    def __init__(
        self,
        network: nn.Module,
        family: Family,
        event_shape: Sequence[int],
        parent_shape: Sequence[int],
    ) -> None:
        super().__init__()
        self.network = network
        self.family = family
        self.event_shape = tuple(event_shape)
        self.parent_shape = tuple(parent_shape)
        self._eta_size = family.params_per_element * math.prod(self.event_shape)

    def parameters_of(self, parents: torch.Tensor) -> torch.Tensor:
        """η = f_DNN(parents), shaped [*batch, params_per_element, *event_shape]."""
        n_parent = len(self.parent_shape)
        if tuple(parents.shape[parents.dim() - n_parent:]) != self.parent_shape:
            raise ValueError(
                f"expected parents with trailing shape {self.parent_shape}, got {tuple(parents.shape)}"
            )
        batch = parents.shape[: parents.dim() - n_parent]
        eta = self.network(parents.reshape(-1, *self.parent_shape))
        return eta.reshape(*batch, self.family.params_per_element, *self.event_shape)

    def forward(self, parents: torch.Tensor) -> Distribution:
        return self.family(self.parameters_of(parents), len(self.event_shape))

    def mean(self, parents: torch.Tensor) -> torch.Tensor:
        """E[x | parents]: the picture to show for a reconstruction or a decoded sample."""
        return self.family.mean(self.parameters_of(parents), len(self.event_shape))
