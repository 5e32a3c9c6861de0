"""Flow guide families: q(z | x) as a normalizing flow on top of the encoder's diagonal Gaussian.

Each reads the encoder's output η(x) as a base Gaussian Normal(μ, diag s²) plus what the flow
needs per example, and returns a `FlowPosterior` (vaelab.distributions.flows), event [d]:

- "planar:K" (`PlanarFlowGuide`), Rezende & Mohamed 2015, amortised: the encoder emits every
  step's u, w, b too, η = [μ, log s, (u_k, w_k, b_k) for k = 1..K]: 2d + K(2d + 1) numbers. No
  parameters of its own; no inverse, so no stopped-gradient objectives (elbo-stl, iwae-stl,
  iwae-dreg) — refused with one error.
- "iaf:K" (`IAFGuide`), Kingma et al. 2016: the encoder emits a context h as well,
  η = [μ, log s, h] (2d + c numbers, c = d by default); each step is z ← σ(z_<i, h) ⊙ z + m(z_<i, h)
  with (m, log σ) from a MADE that sees the earlier coordinates and h (zuko's
  MaskedAutoregressiveTransform), the order reversed between steps. The MADEs are the guide's own
  parameters (held by the encoder's ConditionalDistribution: in the optimiser and checkpoints).
  Sampling takes one pass per step; log q of a draw reads its cache; with stopped parameters
  (STL, DReG) the flow is inverted, d passes per step.
- "spline:K" (`SplineFlowGuide`): the same autoregressive scheme with a monotonic rational-
  quadratic spline per coordinate (8 bins on [−5, 5], identity outside; Durkan et al. 2019,
  inverse autoregressive as in IAF), a more flexible step than IAF's affine one.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, Transform
from torch.func import functional_call
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.transforms import AutoregressiveTransform, MonotonicAffineTransform, MonotonicRQSTransform

from vaelab.distributions.flows import FlowPosterior, PlanarTransform, StoppedLogProb
from vaelab.distributions.guide_families import GuideFamily


def _steps(steps: object, name: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"guide family {name!r} needs a number of steps K >= 1 ({name}:K), got {steps!r}")
    return steps


def _dim(event_shape: tuple[int, ...], name: str) -> int:
    if len(event_shape) != 1:
        raise ValueError(f"guide family {name!r} models a latent vector (event shape (d,)), got "
                         f"event shape {event_shape}")
    return event_shape[0]


def _base(loc: torch.Tensor, log_scale: torch.Tensor) -> Distribution:
    return Independent(Normal(loc, log_scale.exp(), validate_args=False), 1, validate_args=False)


class PlanarFlowGuide(GuideFamily):
    """K amortised planar steps on a diagonal Gaussian (module docstring)."""

    name = "planar"
    takes_steps = True
    scores_stopped = False  # no inverse (components.UNSTOPPABLE_GUIDE_FAMILIES)

    def __init__(self, steps: int) -> None:
        self.steps = _steps(steps, self.name)

    def param_shape(self, event_shape: tuple[int, ...]) -> tuple[int, ...]:
        d = _dim(event_shape, self.name)
        return (2 * d + self.steps * (2 * d + 1),)

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        d = (eta.shape[-1] - self.steps) // (2 + 2 * self.steps)
        loc, log_scale, rest = eta.split((d, d, eta.shape[-1] - 2 * d), -1)
        transforms = [PlanarTransform(u, w, b.squeeze(-1))
                      for u, w, b in (step.split((d, d, 1), -1) for step in rest.chunk(self.steps, -1))]
        return FlowPosterior(_base(loc, log_scale), transforms, why_not_stopped=(
            "a planar flow has no inverse, so it cannot score z with stopped parameters "
            "(elbo-stl, iwae-stl, iwae-dreg): use elbo or iwae, or the iaf / spline guide"))


class _StoppedScorer(nn.Module):
    """log q(z | η) as a module's forward, so that `functional_call` can run it with detached
    copies of the flow's parameters."""

    def __init__(self, family: AutoregressiveFlowGuide) -> None:
        super().__init__()
        self.family = family

    def forward(self, eta: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.family(eta, 1).log_prob(z)


class AutoregressiveFlowGuide(GuideFamily, nn.Module):
    """K inverse-autoregressive steps conditioned on a context h from the encoder, each a MADE
    (zuko's MaskedAutoregressiveTransform) giving the parameters of `univariate` per coordinate.

    `context`: the size c of h (default d); `hidden`: the MADEs' hidden widths (default two
    layers of max(64, 2(d + c))). Built for a latent size by `bind`, which the encoder's
    ConditionalDistribution calls.
    """

    #: zuko's univariate transform of each coordinate and the shapes of its parameters
    univariate: ClassVar[type[Transform]]
    univariate_shapes: ClassVar[tuple[tuple[int, ...], ...]]
    takes_steps = True

    def __init__(self, steps: int, context: int | None = None,
                 hidden: tuple[int, ...] | None = None) -> None:
        nn.Module.__init__(self)
        self.steps = _steps(steps, self.name)
        if context is not None and (not isinstance(context, int) or context < 1):
            raise ValueError(f"guide family {self.name!r}: context size must be an int >= 1, got {context!r}")
        self.context = context
        self.hidden = hidden
        self.latent_dim: int | None = None
        self.made = nn.ModuleList()

    def _context(self, d: int) -> int:
        return self.context if self.context is not None else d

    def param_shape(self, event_shape: tuple[int, ...]) -> tuple[int, ...]:
        d = _dim(event_shape, self.name)
        return (2 * d + self._context(d),)

    def bind(self, event_shape: tuple[int, ...]) -> AutoregressiveFlowGuide:
        d = _dim(event_shape, self.name)
        if self.latent_dim is not None:
            if self.latent_dim != d:
                raise ValueError(f"this {self.spec} guide family is built for latents of size "
                                 f"{self.latent_dim}, not {d}: give each latent its own")
            return self
        c = self._context(d)
        width = max(64, 2 * (d + c))
        hidden = self.hidden if self.hidden is not None else (width, width)
        for k in range(self.steps):
            order = torch.arange(d) if k % 2 == 0 else torch.arange(d).flip(0)
            self.made.append(MaskedAutoregressiveTransform(
                d, c, order=order, univariate=self.univariate, shapes=self.univariate_shapes,
                hidden_features=hidden))
        self.latent_dim = d
        return self

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        if self.latent_dim is None:
            raise ValueError(f"the {self.spec} guide family is not built for a latent size yet: "
                             "use it in a ConditionalDistribution (which calls bind)")
        d = self.latent_dim
        loc, log_scale, h = eta.split((d, d, eta.shape[-1] - 2 * d), -1)
        # zuko's own transform, with a cache, so that log q of a draw does not invert the flow
        transforms = [AutoregressiveTransform(partial(made.meta, h), made.passes, cache_size=1)
                      for made in self.made]
        return FlowPosterior(_base(loc, log_scale), transforms, partial(self._stopped, eta))

    def _stopped(self, eta: torch.Tensor) -> Distribution:
        scorer = _StoppedScorer(self)
        detached = {f"family.{name}": p.detach() for name, p in self.named_parameters()}
        batch = eta.shape[:-1]
        return StoppedLogProb(lambda z: functional_call(scorer, detached, (eta.detach(), z)),
                              batch, torch.Size((self.latent_dim,)))


class IAFGuide(AutoregressiveFlowGuide):
    """Inverse autoregressive flow (Kingma et al. 2016): affine steps z ← σ ⊙ z + m, with
    log σ soft-clipped to about ±7 by zuko's MonotonicAffineTransform."""

    name = "iaf"
    univariate = MonotonicAffineTransform
    univariate_shapes = ((), ())


#: bins of the spline guide's rational-quadratic splines
SPLINE_BINS = 8


class SplineFlowGuide(AutoregressiveFlowGuide):
    """Inverse autoregressive neural spline flow: each step a monotonic rational-quadratic spline
    per coordinate (Durkan et al. 2019) whose widths, heights and slopes come from the MADE."""

    name = "spline"
    univariate = MonotonicRQSTransform
    univariate_shapes = ((SPLINE_BINS,), (SPLINE_BINS,), (SPLINE_BINS - 1,))


__all__ = ["SPLINE_BINS", "AutoregressiveFlowGuide", "IAFGuide", "PlanarFlowGuide", "SplineFlowGuide"]
