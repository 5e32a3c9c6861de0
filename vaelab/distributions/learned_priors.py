"""Learned priors: a mixture of Gaussians, and the VampPrior (Tomczak & Welling 2018).

A standard Normal prior over-regularises: the aggregate posterior rarely looks like it. A
learned mixture lets p(z) follow the encodings; the VampPrior goes further and defines
p(z) = (1/K) Σ_k q(z | u_k) with K learned pseudo-inputs u_k in data space, so the prior is
the guide's own mixture over a few "prototype" inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from vaelab.choices import PRIORS as PRIORS
from vaelab.distributions.mixture import DiagonalGaussianMixture
from vaelab.distributions.prior import Prior, PriorSpec


def mixture_of(logits: torch.Tensor, components: Distribution) -> Distribution:
    """The mixture Σ_k π_k components_k: the fast diagonal-Gaussian form where the components are
    diagonal Normals [K] × [d], torch's `MixtureSameFamily` otherwise."""
    base = components.base_dist if isinstance(components, Independent) else None
    if (isinstance(base, Normal) and components.reinterpreted_batch_ndims == 1
            and base.loc.dim() == 2):
        return DiagonalGaussianMixture(logits, base.loc, base.scale)
    return MixtureSameFamily(Categorical(logits=logits, validate_args=False), components,
                             validate_args=False)


class _Reusable(Prior):
    """A learned prior that can keep the distribution it computed inside `priors_fixed`."""

    def __init__(self) -> None:
        super().__init__()
        self.fixed: dict[object, Distribution] | None = None

    def reuse(self, key: object, compute: Callable[[], Distribution]) -> Distribution:
        if self.fixed is None:
            return compute()
        if key not in self.fixed:
            self.fixed[key] = compute()
        return self.fixed[key]


@contextmanager
def priors_fixed(model: nn.Module) -> Iterator[None]:
    """Inside the block each learned prior of `model` computes its distribution once and reuses
    it — for evaluation under `torch.no_grad()`, where the weights do not change: a VampPrior then
    encodes its pseudo-inputs once per evaluation, not once per chunk of importance samples."""
    priors = [m for m in model.modules() if isinstance(m, _Reusable)]
    before = [m.fixed for m in priors]
    for m in priors:
        m.fixed = {} if m.fixed is None else m.fixed
    try:
        yield
    finally:
        for m, old in zip(priors, before, strict=True):
            m.fixed = old


class MixtureOfGaussiansPrior(_Reusable):
    """p(z) = Σ_k π_k Normal(μ_k, diag σ_k²) with learned π, μ, σ (K components)."""

    name = "mog"
    default_components = 10

    def __init__(self, latent_dim: int, components: int) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"a mixture prior needs >= 1 components, got {components}")
        self.latent_dim = latent_dim
        self.logits = nn.Parameter(torch.zeros(components))
        self.means = nn.Parameter(torch.randn(components, latent_dim))
        self.log_scales = nn.Parameter(torch.zeros(components, latent_dim))

    @classmethod
    def from_spec(cls, spec: PriorSpec) -> MixtureOfGaussiansPrior:
        return cls(spec.latent_dim, spec.components or cls.default_components)

    def forward(self, encoder: Callable[[torch.Tensor], Distribution] | None = None) -> Distribution:
        return self.reuse(None, lambda: DiagonalGaussianMixture(self.logits, self.means,
                                                                self.log_scales.exp()))


class VampPrior(_Reusable):
    """p(z) = (1/K) Σ_k q(z | u_k): the guide evaluated at K learned pseudo-inputs u_k.

    The pseudo-inputs live in data space, squashed into the data's range [0, `upper`]; the
    guide is passed in at call time so its weights are shared, not copied.
    """

    name = "vamp"
    default_components = 500

    def __init__(self, data_shape: Sequence[int], components: int, upper: float = 1.0) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"the VampPrior needs >= 1 pseudo-inputs, got {components}")
        self.upper = upper
        # start dark with a little spread, like the mostly-background images they imitate
        self.raw_inputs = nn.Parameter(torch.randn(components, *data_shape) * 0.1 - 1.0)

    @classmethod
    def from_spec(cls, spec: PriorSpec) -> VampPrior:
        return cls(spec.data_shape, spec.components or cls.default_components, spec.data_upper)

    @property
    def pseudo_inputs(self) -> torch.Tensor:
        return torch.sigmoid(self.raw_inputs) * self.upper

    def forward(self, encoder: Callable[[torch.Tensor], Distribution] | None = None) -> Distribution:
        if encoder is None:
            raise ValueError("the VampPrior needs the guide q(z | x) to evaluate its pseudo-inputs")

        def compute() -> Distribution:
            components = encoder(self.pseudo_inputs)  # batch [K], event [d]
            k = self.raw_inputs.shape[0]
            return mixture_of(torch.zeros(k, device=self.raw_inputs.device), components)

        # a bound method is a new object on each access: key on its owner and function
        key = (id(getattr(encoder, "__self__", encoder)), getattr(encoder, "__func__", None))
        return self.reuse(key, compute)


#: the number of components a learned prior has unless told (`model.prior_components`)
DEFAULT_COMPONENTS = {prior.name: prior.default_components
                      for prior in (MixtureOfGaussiansPrior, VampPrior)}

