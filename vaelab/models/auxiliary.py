"""The auxiliary variable a of Maaløe et al. (2016), "Auxiliary Deep Generative Models".

Plugged into an M2 (models/m2.py), a makes the guide richer while the model of (x, y, z) stays:

    ADGM   generative  p(y) p(z) p(x | y, z) p(a | x, y, z)
           guide       q(a | x) q(y | a, x) q(z | a, y, x)
    SDGM   generative  p(y) p(z) p(a | y, z) p(x | a, y, z)       (`skip`: a is a parent of x)
           guide       the same as ADGM's

Marginalising a out of p leaves ADGM's p(x, y, z) unchanged, so its bound is a bound on
log p(x) whatever q(a | x) is; SDGM's a is a second stochastic layer of the generative model.
Both are diagonal Gaussians. This component holds q(a | x) and p(a | ·) and knows which parents
p(a | ·) reads; M2 feeds a to its classifier, encoder and (SDGM) decoder.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.models.conditional import ConditionalDistribution

#: the two ways a enters the model: ADGM (generative p(a | x, y, z)), SDGM (p(a | y, z), a → x)
ADGM, SDGM = "adgm", "sdgm"


class AuxiliaryVariable(nn.Module):
    """q(a | x) (`guide`, parents flatten(x)) and p(a | ·) (`prior`): ADGM's p(a | x, y, z) reads
    [flatten(x), y, z]; SDGM's p(a | y, z) (`skip`) reads [y, z], and a is a parent of x."""

    def __init__(self, guide: ConditionalDistribution, prior: ConditionalDistribution,
                 skip: bool) -> None:
        super().__init__()
        if guide.event_shape != prior.event_shape or len(guide.event_shape) != 1:
            raise ValueError(f"q(a | x) and p(a | ·) must agree on a's shape [d], got "
                             f"{guide.event_shape} and {prior.event_shape}")
        self.guide = guide
        self.prior = prior
        self.skip = skip
        self.dim = guide.event_shape[0]

    @property
    def name(self) -> str:
        """"sdgm" when a is a parent of x, else "adgm"."""
        return SDGM if self.skip else ADGM

    def posterior(self, flat_x: torch.Tensor) -> Distribution:
        """q(a | x) for flattened x [*batch, D]."""
        return self.guide(flat_x)

    def conditional(self, y: torch.Tensor, z: torch.Tensor,
                    flat_x: torch.Tensor | None = None) -> Distribution:
        """p(a | x, y, z) (ADGM; needs flattened x) or p(a | y, z) (SDGM) for parents sharing
        their batch dims [*batch, ·]."""
        if self.skip:
            return self.prior.from_parts([y.to(z.dtype), z])
        if flat_x is None:
            raise ValueError("ADGM's p(a | x, y, z) needs x")
        return self.prior.from_parts([flat_x.to(z.dtype), y.to(z.dtype), z])
