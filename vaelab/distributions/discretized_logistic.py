"""The discretized logistic distribution over 8-bit values {0, ..., 255}.

P(x) = CDF(x + ½) − CDF(x − ½) of a logistic with location μ and scale s, with the edge bins
absorbing the tails (Salimans et al. 2017, PixelCNN++). It is not in torch.distributions; a
mixture of K of them (PixelCNN++'s and VDVAE's likelihood) is torch's MixtureSameFamily over it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Categorical, Distribution, MixtureSameFamily, constraints


class DiscretizedLogistic(Distribution):
    """Elementwise distribution on integers 0..255 (float tensors holding integer values)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.integer_interval(0, 255)
    has_rsample = False

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor) -> None:
        self.loc, self.scale = torch.broadcast_tensors(loc, scale)
        super().__init__(self.loc.shape, validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        centred = value - self.loc
        inv_s = 1.0 / self.scale
        upper = inv_s * (centred + 0.5)
        lower = inv_s * (centred - 0.5)
        # log(σ(u) − σ(l)) computed stably: log σ(u) + log(1 − e^{l−u}) + log σ(−l) ... via softplus
        log_cdf_upper = -F.softplus(-upper)  # log σ(u), used for the lowest bin
        log_one_minus_cdf_lower = -F.softplus(lower)  # log(1 − σ(l)), used for the highest bin
        mid = torch.sigmoid(upper) - torch.sigmoid(lower)
        # In the far tails the difference underflows; fall back to the density at the centre.
        log_pdf_mid = inv_s.log() + (inv_s * centred) - 2.0 * F.softplus(inv_s * centred)
        log_mid = torch.where(mid > 1e-5, mid.clamp_min(1e-12).log(), log_pdf_mid)
        return torch.where(value < 0.5, log_cdf_upper,
                           torch.where(value > 254.5, log_one_minus_cdf_lower, log_mid))

    @property
    def mean(self) -> torch.Tensor:
        return self.loc.clamp(0.0, 255.0)

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device).clamp(1e-6, 1 - 1e-6)
            x = self.loc + self.scale * (u.log() - (-u).log1p())
            return x.round().clamp(0.0, 255.0)


def discretized_logistic_mixture(logits: torch.Tensor, loc: torch.Tensor,
                                  scale: torch.Tensor) -> MixtureSameFamily:
    """Elementwise mixture of K discretized logistics on 0..255 (PixelCNN++, Salimans et al. 2017).

    P(x) = Σ_k π_k [CDF_k(x + ½) − CDF_k(x − ½)], edge bins absorbing the tails as in
    `DiscretizedLogistic`, π = softmax(logits). `logits`, `loc` and `scale` have shape [*batch, K];
    the distribution's batch shape is [*batch]. Sampling picks a component, then a value from it
    (no gradient); the mean is Σ_k π_k clamp(μ_k, 0, 255), each component's `DiscretizedLogistic`
    mean weighted by π.
    """
    return MixtureSameFamily(Categorical(logits=logits, validate_args=False),
                             DiscretizedLogistic(loc, scale), validate_args=False)
