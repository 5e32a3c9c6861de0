"""Normalizing-flow posteriors: q(z | x) = the law of z = T_K ∘ … ∘ T_1(ε), ε ~ Normal(μ(x), s(x)²).

`FlowPosterior` is a `torch.distributions.TransformedDistribution` (rsample through the steps,
log q(z) = log N(ε) − Σ_k log|det ∂T_k|), with what the objectives need besides:

- log_prob of its own draws without inverting the flow: every step caches its last (input,
  output) pair (`cache_size=1`), so `q.log_prob(q.rsample())` reads ε back, as IWAE, importance
  sampling and the Monte-Carlo KL of the ELBO do;
- `with_stopped_parameters()`: the same density with every guide parameter cut from the graph
  (the encoder's output and the flow's own networks), z kept differentiable: what the
  sticking-the-landing and DReG gradients score z with (vaelab.distributions.detach). It inverts
  the flow, so a flow without an inverse (planar) refuses it with one ValueError (the command line
  prints it as one line);
- `mean`: no closed form exists; the flow at the base mean, T(μ), stands for q's location
  (reconstructions, the explorer, active units).

`PlanarTransform` is the planar step of Rezende & Mohamed (2015), written here: neither zuko nor
torch has it (the README says why not Pyro's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.distributions import Distribution, Transform, TransformedDistribution, constraints


class FlowPosterior(TransformedDistribution):
    """z = T_K(… T_1(ε)), ε ~ `base` (a diagonal Normal, event [d]); see the module docstring.

    `stopped` builds the same distribution with stopped parameters (None: the flow cannot be
    inverted, `why_not_stopped` says so).
    """

    def __init__(self, base: Distribution, transforms: Sequence[Transform],
                 stopped: Callable[[], Distribution] | None = None, why_not_stopped: str = "") -> None:
        super().__init__(base, list(transforms), validate_args=False)
        self._stopped = stopped
        self._why_not_stopped = why_not_stopped

    @property
    def mean(self) -> torch.Tensor:
        """T(μ): the flow at the base distribution's mean (the exact mean has no closed form).
        Evaluated without touching the steps' caches, so log_prob of an earlier draw stays cheap."""
        z = self.base_dist.mean
        for transform in self.transforms:
            z = transform._call(z)
        return z

    def with_stopped_parameters(self) -> Distribution:
        """q with every parameter detached; log_prob(z) keeps z's gradient (STL, DReG)."""
        if self._stopped is None:  # a choice of settings that does not go together: ValueError
            raise ValueError(self._why_not_stopped or "this flow cannot score z with stopped "
                             "parameters; use an objective without a stopped guide gradient")
        return self._stopped()


class StoppedLogProb(Distribution):
    """A distribution known only by its log density: `log_prob(z) = score(z)` (a flow scored with
    stopped parameters, which needs nothing else)."""

    arg_constraints: dict = {}

    def __init__(self, score: Callable[[torch.Tensor], torch.Tensor], batch_shape: torch.Size,
                 event_shape: torch.Size) -> None:
        super().__init__(batch_shape, event_shape, validate_args=False)
        self._score = score

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self._score(value)


class PlanarTransform(Transform):
    """f(z) = z + û h(wᵀz + b), h = tanh (Rezende & Mohamed 2015, eq. 10), parameters per example:
    u, w [*batch, d], b [*batch].

    û = u + (m(wᵀu) − wᵀu) w / ‖w‖², m(a) = −1 + softplus(a), makes wᵀû > −1 and so f invertible
    (their appendix A); log|det ∂f/∂z| = log|1 + h'(wᵀz + b) wᵀû|. The inverse has no closed form:
    the step caches its last call, which is all that log q of q's own draws needs.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, u: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__(cache_size=1)
        wu = (w * u).sum(-1, keepdim=True)
        self.u_hat = u + (F.softplus(wu) - 1.0 - wu) * w / (w * w).sum(-1, keepdim=True).clamp_min(1e-12)
        self.w, self.b = w, b

    def _call(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.u_hat * torch.tanh((z * self.w).sum(-1, keepdim=True) + self.b.unsqueeze(-1))

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("a planar flow has no closed-form inverse: its log q is known only "
                                  "at its own draws")

    def log_abs_det_jacobian(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        slope = 1.0 - torch.tanh((z * self.w).sum(-1) + self.b) ** 2
        return torch.log1p(slope * (self.w * self.u_hat).sum(-1))  # wᵀû > −1, 0 < h' ≤ 1


__all__ = ["FlowPosterior", "PlanarTransform", "StoppedLogProb"]
