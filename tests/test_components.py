"""The registries of built-in components: every catalog line resolves to a class carrying its
name, choices.py's tuples are the registries' names, nothing here loads torch, and a new prior
or guide family is one registered class that trains through `VAE.from_networks` and a config."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaelab import choices, components
from vaelab.distributions import make_family
from vaelab.distributions.guide_families import DiagonalGaussianGuide, GuideFamily
from vaelab.distributions.prior import Prior, PriorSpec
from vaelab.models import VAE, ModelConfig, build_model
from vaelab.nn.mlp import MLP
from vaelab.objectives import make_objective

SHAPE = (1, 4, 4)


@pytest.mark.parametrize("registry", components.REGISTRIES.values(), ids=list(components.REGISTRIES))
def test_every_catalog_entry_is_a_class_that_names_itself(registry: Any) -> None:
    for name in registry.names():
        entry = registry.get(name)
        assert isinstance(entry, type), (registry.kind, name)
        assert name in getattr(entry, "names", (getattr(entry, "name", None),)), (registry.kind, name)


def test_the_choices_are_the_registries_names_in_order() -> None:
    assert choices.PRIORS == components.priors.names() == ("normal", "mog", "vamp")
    assert choices.GUIDE_FAMILIES == components.guide_families.names() == (
        "diagonal", "full", "planar", "iaf", "spline")
    assert choices.FAMILIES == components.likelihoods.names() == (
        "bernoulli", "gaussian", "gaussian-fixed", "logistic8", "logistic-mixture")
    assert choices.OBJECTIVES == components.objectives.names() == (
        "elbo", "elbo-stl", "iwae", "iwae-dreg", "iwae-stl")
    assert choices.ARCHITECTURES == components.architectures.names() == ("mlp", "conv", "deep", "deep-conv")
    assert choices.INFERENCE == components.inference.names() == ("bottom-up", "top-down", "residual")
    assert choices.TRANSITIONS == components.transitions.names() == (
        "pendulum", "undamped", "small-angle", "generic", "none")
    assert choices.PHYSICS_RULES == ("pendulum", "undamped", "small-angle")
    assert choices.GUIDES == ("auto", *components.ssm_guides.names()) == ("auto", "filter", "smooth", "frame")
    assert choices.COMBINERS == components.combiners.names() == ("fusion", "gated", "frame")
    assert choices.SSM_ARCHITECTURES == components.ssm_architectures.names() == ("keypoint", "mlp", "conv")
    assert set(choices.SSM_LIKELIHOODS) < set(choices.FAMILIES)  # a selection, not new names


def test_the_names_load_no_torch() -> None:
    script = ("import sys, vaelab.choices, vaelab.components, vaelab.models.model_config, "
              "vaelab.models.ssm_config; print('LOADED', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "LOADED False" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize(("build", "message"), [
    (lambda: make_family("poisson"), "unknown likelihood 'poisson'; choose one of bernoulli, gaussian, "
                                     "gaussian-fixed, logistic8, logistic-mixture[:K]"),
    (lambda: ModelConfig(likelihood="poisson"), "model.likelihood: unknown likelihood 'poisson'; choose "
                                                "one of bernoulli, gaussian, gaussian-fixed, logistic8, "
                                                "logistic-mixture[:K]"),
    (lambda: make_objective("elbow", 1), "unknown objective 'elbow'; choose one of elbo, elbo-stl, iwae, "
                                         "iwae-dreg, iwae-stl"),
    (lambda: components.transitions.get("chaos"), "unknown transition 'chaos'; choose one of pendulum, "
                                                  "undamped, small-angle, generic, none"),
    (lambda: ModelConfig(prior="laplace"), "model.prior: 'laplace' is not one of normal, mog, vamp"),
    (lambda: ModelConfig(posterior="fancy"), "model.posterior: unknown guide family 'fancy'; choose one "
                                             "of diagonal, full, planar:K, iaf:K, spline:K"),
])
def test_an_unknown_name_is_one_clear_error_listing_the_choices(build: Callable[[], object],
                                                                message: str) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert str(info.value) == message


# -- a new prior and a new guide family, each one registered class -------------------------------

class ShiftedNormalPrior(Prior):
    """p(z) = Normal(μ, σ² I) with a learned location μ (a toy)."""

    name = "test-shifted"

    def __init__(self, latent_dim: int, scale: float) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(latent_dim))
        self.scale = scale

    @classmethod
    def from_spec(cls, spec: PriorSpec) -> ShiftedNormalPrior:
        return cls(spec.latent_dim, spec.scale)

    def forward(self, encoder: Callable[[torch.Tensor], Distribution] | None = None) -> Distribution:
        return Independent(Normal(self.loc, torch.full_like(self.loc, self.scale)), 1)


class IsotropicGaussianGuide(GuideFamily):
    """q(z | x) = Normal(μ(x), s(x)² I): d means and one shared log-scale, d + 1 numbers (a toy)."""

    name = "test-isotropic"

    def param_shape(self, event_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (event_shape[0] + 1,)

    def __call__(self, eta: torch.Tensor, event_dims: int) -> Distribution:
        loc, log_scale = eta[..., :-1], eta[..., -1:]
        return Independent(Normal(loc, log_scale.exp().expand_as(loc)), 1)


@pytest.fixture
def registered() -> Iterator[None]:
    components.priors.register(ShiftedNormalPrior)
    components.guide_families.register(IsotropicGaussianGuide)
    try:
        yield
    finally:
        components.priors.remove(ShiftedNormalPrior.name)
        components.guide_families.remove(IsotropicGaussianGuide.name)


def _one_step(model: nn.Module) -> None:
    x = torch.bernoulli(torch.full((6, *SHAPE), 0.3))
    before = model.prior_module.loc.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    value = make_objective("elbo", 2)(model, x, 1.0)
    optimizer.zero_grad()
    value.loss.backward()
    optimizer.step()
    assert torch.isfinite(value.loss)
    assert not torch.equal(model.prior_module.loc, before)  # the new prior learns


def test_a_registered_prior_and_guide_family_train_through_from_networks(registered: None) -> None:
    d = 3
    assert IsotropicGaussianGuide().num_params(d) == 4  # the family, not the builder, sizes the encoder
    model = VAE.from_networks(MLP(SHAPE, (8,), d + 1), MLP((d,), (8,), 16), "bernoulli", latent_dim=d,
                              data_shape=SHAPE, prior="test-shifted", posterior="test-isotropic")
    assert isinstance(model.prior_module, ShiftedNormalPrior)
    assert isinstance(model.encoder.family, IsotropicGaussianGuide)
    _one_step(model)
    with pytest.raises(ValueError, match=r"guide family test-isotropic\): network MLP maps parents "
                                         r"\[2, 1, 4, 4\] to \[2, 6\]"):
        VAE.from_networks(MLP(SHAPE, (8,), 2 * d), MLP((d,), (8,), 16), latent_dim=d, data_shape=SHAPE,
                          posterior="test-isotropic")


def test_a_registered_prior_and_guide_family_train_through_a_config(registered: None) -> None:
    config = ModelConfig(latent_dim=3, hidden=(8,), prior="test-shifted", posterior="test-isotropic",
                         prior_scale=0.5)
    model = build_model(config, SHAPE)
    assert model.prior_module.scale == 0.5
    assert model.encoder.network(torch.zeros(2, *SHAPE)).shape == (2, 4)
    _one_step(model)
    with pytest.raises(ValueError, match="model.posterior: stacked stochastic layers"):
        ModelConfig(upper_latents=(2,), posterior="test-isotropic")


def test_the_built_in_guide_family_is_the_diagonal_gaussian_of_before() -> None:
    eta = torch.randn(5, 2, 3)
    q = DiagonalGaussianGuide()(eta, 1)
    assert isinstance(q, Independent) and isinstance(q.base_dist, Normal)
    assert torch.equal(q.base_dist.loc, eta[:, 0]) and torch.equal(q.base_dist.scale, eta[:, 1].exp())
    model = build_model(ModelConfig(latent_dim=3, hidden=(8,)), SHAPE)
    assert isinstance(model.encoder.family, DiagonalGaussianGuide)

