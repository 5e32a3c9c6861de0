"""Guide families beyond the diagonal Gaussian: full covariance, planar, IAF and spline flows.

Checked against exact answers: a flow's log|det| against the brute-force autograd Jacobian, log q
of a draw against the base density minus the log-determinants, the full-covariance KL against
its Monte-Carlo estimate, and on a linear-Gaussian model (whose exact posterior is a
full-covariance Gaussian) the trained `full` guide's ELBO against the closed-form log p(x).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, MultivariateNormal, Normal

from vaelab import components
from vaelab.distributions import (
    FlowPosterior,
    FullCovarianceGaussianGuide,
    IAFGuide,
    PlanarFlowGuide,
    SplineFlowGuide,
    make_guide_family,
)
from vaelab.distributions.detach import detach_parameters
from vaelab.distributions.families import BernoulliFamily, GaussianFamily
from vaelab.distributions.kl import kl_or_estimate
from vaelab.models import ModelConfig, build_vae
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.graph import GraphModel
from vaelab.models.graph_nodes import Latent, Observed
from vaelab.models.vae import VAE
from vaelab.objectives.elbo import elbo
from vaelab.objectives.iwae import iwae_bound
from vaelab.settings import ConfigError

FAMILIES = ("diagonal", "full", "planar:2", "iaf:2", "spline:2")
FLOWS = ("planar:3", "iaf:3", "spline:3")
D, LATENT = 6, 3


def guide(spec: str, d: int = LATENT, data: int = D) -> ConditionalDistribution:
    """q(z | x) with a linear encoder, as a VAE builds it."""
    family = make_guide_family(spec)
    return ConditionalDistribution(nn.Linear(data, family.num_params(d)), family, (d,), (data,))


def vae(spec: str) -> VAE:
    family = make_guide_family(spec)
    return VAE.from_networks(nn.Linear(D, family.num_params(LATENT)), nn.Linear(LATENT, D),
                             "gaussian-fixed", latent_dim=LATENT, data_shape=(D,), posterior=spec)


# -- shapes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "numbers"), [
    ("diagonal", 2 * 3), ("full", 3 + 6), ("planar:2", 6 + 2 * 7), ("iaf:2", 6 + 3), ("spline:4", 6 + 3)])
def test_the_family_sizes_the_encoder(spec: str, numbers: int) -> None:
    assert make_guide_family(spec).num_params(3) == numbers


@pytest.mark.parametrize("spec", FAMILIES)
def test_each_family_is_a_distribution_with_the_latents_shapes(spec: str) -> None:
    q = guide(spec)(torch.randn(5, D))
    assert q.batch_shape == (5,) and q.event_shape == (LATENT,)
    z = q.rsample((4,))
    assert z.shape == (4, 5, LATENT) and z.requires_grad
    assert q.log_prob(z).shape == (4, 5)
    assert q.mean.shape == (5, LATENT)
    assert torch.isfinite(q.log_prob(z)).all()


@pytest.mark.parametrize("spec", FAMILIES)
def test_each_family_trains_with_the_elbo_and_the_iwae_bound(spec: str) -> None:
    model = vae(spec)
    x = torch.rand(8, D)
    for value in (elbo(model, x, 2), elbo(model, x, analytic_kl=True), iwae_bound(model, x, 4)):
        model.zero_grad()
        value.loss.backward()
        assert torch.isfinite(value.loss) and value.bound.shape == (8,)
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.encoder.parameters())


def test_the_iaf_networks_are_the_models_parameters() -> None:
    model = vae("iaf:2")
    made = [p for p in model.encoder.family.parameters()]
    assert made and all(any(p is q for q in model.parameters()) for p in made)
    assert any(key.startswith("encoder.family.made.1.") for key in model.state_dict())
    other = vae("iaf:2")
    other.load_state_dict(model.state_dict())  # a checkpoint holds them and restores them
    x = torch.rand(3, D)
    assert torch.equal(model.posterior(x).mean, other.posterior(x).mean)


def test_a_config_and_a_build_take_the_posterior() -> None:
    model = build_vae(ModelConfig(latent_dim=2, hidden=(8,), posterior="spline:2"), (1, 4, 4))
    assert isinstance(model.encoder.family, SplineFlowGuide) and model.encoder.family.steps == 2
    assert model.encoder.network(torch.zeros(2, 1, 4, 4)).shape == (2, 2 * 2 + 2)
    assert isinstance(model.posterior(torch.rand(3, 1, 4, 4)), FlowPosterior)


# -- exact answers ----------------------------------------------------------------------------------

def _flow_and_logdet(q: FlowPosterior, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z, log_det = eps, torch.zeros(())
    for transform in q.transforms:
        y = transform(z)
        log_det = log_det + transform.log_abs_det_jacobian(z, y)
        z = y
    return z, log_det


@pytest.mark.parametrize("spec", FLOWS)
def test_a_flows_log_determinant_is_the_autograd_jacobians(spec: str) -> None:
    torch.set_default_dtype(torch.float64)
    try:
        q = guide(spec)(torch.randn(1, D) * 2)
        eps = torch.randn(LATENT) * 1.5
        _, log_det = _flow_and_logdet(q, eps.unsqueeze(0))
        jacobian = torch.autograd.functional.jacobian(
            lambda e: _flow_and_logdet(q, e.unsqueeze(0))[0][0], eps)
        assert torch.allclose(log_det[0], torch.linalg.slogdet(jacobian).logabsdet, atol=1e-9)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("spec", FLOWS)
def test_log_q_of_a_draw_is_the_base_density_minus_the_log_determinants(spec: str) -> None:
    q = guide(spec)(torch.randn(5, D))
    eps = q.base_dist.rsample((2,))
    z, log_det = _flow_and_logdet(q, eps)  # each step caches (input, output), as rsample does
    assert torch.allclose(q.log_prob(z), q.base_dist.log_prob(eps) - log_det, atol=1e-5)


@pytest.mark.parametrize("spec", ("iaf:2", "spline:2"))
def test_an_autoregressive_flow_scores_any_z_by_inverting_itself(spec: str) -> None:
    conditional = guide(spec)
    x = torch.randn(5, D)
    q = conditional(x)
    z = q.rsample((3,))
    cached = q.log_prob(z)
    inverted = conditional(x).log_prob(z.detach().clone())  # a fresh q: no cache, d passes a step
    assert torch.allclose(cached, inverted, atol=1e-4)


def test_the_full_covariance_guide_is_a_gaussian_with_that_cholesky_factor() -> None:
    eta = torch.randn(4, 3 + 6)
    q = FullCovarianceGaussianGuide()(eta, 1)
    tril = q.scale_tril
    assert torch.equal(q.loc, eta[:, :3])
    assert torch.allclose(torch.diagonal(tril, dim1=-2, dim2=-1), eta[:, [3, 5, 8]].exp())
    assert torch.equal(tril[:, 1, 0], eta[:, 4]) and torch.equal(tril[:, 0, 1], torch.zeros(4))


def test_the_full_covariance_kl_to_a_diagonal_prior_is_its_closed_form() -> None:
    torch.manual_seed(3)
    q = FullCovarianceGaussianGuide()(torch.randn(2, 3 + 6) * 0.5, 1)
    prior = Independent(Normal(torch.tensor([0.1, -0.2, 0.3]), torch.tensor([1.0, 0.7, 1.5])), 1)
    exact = kl_or_estimate(q, prior, q.rsample())
    as_mvn = torch.distributions.kl_divergence(
        q, MultivariateNormal(prior.base_dist.loc, scale_tril=torch.diag(prior.base_dist.scale)))
    assert torch.allclose(exact, as_mvn, atol=1e-5)


def test_the_full_guide_closes_the_elbo_gap_of_a_linear_gaussian_model() -> None:
    """p(z) = N(0, I), p(x | z) = N(W z + b, σ² I): the exact posterior is a Gaussian with a full
    covariance (W's columns are not orthogonal), so the `full` guide can reach it and its ELBO the
    closed-form log p(x) = log N(x; b, W Wᵀ + σ² I); the diagonal guide cannot."""
    sigma, d = 0.5, 2
    weight = torch.tensor([[1.0, 0.8], [0.5, -0.3], [0.2, 0.9], [-0.7, 0.4], [0.3, 0.3]])
    gaps = {}
    for spec in ("full", "diagonal"):
        torch.manual_seed(0)
        encoder, decoder = nn.Linear(5, make_guide_family(spec).num_params(d)), nn.Linear(d, 5)
        with torch.no_grad():
            decoder.weight.copy_(weight)
        decoder.requires_grad_(False)
        model = VAE.from_networks(encoder, decoder, "gaussian-fixed", latent_dim=d, data_shape=(5,),
                                  fixed_scale=sigma, posterior=spec)
        marginal = MultivariateNormal(decoder.bias, weight @ weight.T + sigma**2 * torch.eye(5))
        x = marginal.sample((256,))
        optimizer = torch.optim.Adam(encoder.parameters(), lr=0.02)
        for _ in range(800):
            value = elbo(model, x, 4, stop_guide_gradient=True)
            optimizer.zero_grad()
            value.loss.backward()
            optimizer.step()
        with torch.no_grad():
            gaps[spec] = marginal.log_prob(x) - elbo(model, x, 1000, analytic_kl=False).bound
    assert gaps["full"].abs().max() < 0.01  # every example's ELBO is log p(x) to 0.01 nats
    assert gaps["diagonal"].mean() > 0.03  # the mean-field guide cannot close the gap


# -- stopped parameters (STL, DReG) --------------------------------------------------------------------

@pytest.mark.parametrize("spec", ("full", "iaf:2", "spline:2"))
def test_stopped_parameters_keep_the_value_and_the_gradient_through_z_only(spec: str) -> None:
    conditional = guide(spec)
    q = conditional(torch.randn(4, D))
    z = q.rsample((2,))
    stopped = detach_parameters(q).log_prob(z)
    assert torch.allclose(stopped, q.log_prob(z), atol=1e-4)
    parameters = list(conditional.parameters())
    grads = torch.autograd.grad(stopped.sum(), parameters, retain_graph=True, allow_unused=True)
    # every parameter's gradient flows only through z: equal to the pathwise part alone
    z_grad = torch.autograd.grad(stopped.sum(), z, retain_graph=True)[0]
    pathwise = torch.autograd.grad(z, parameters, grad_outputs=z_grad, allow_unused=True)
    for got, want in zip(grads, pathwise, strict=True):
        assert (got is None and want is None) or torch.allclose(got, want, atol=1e-4)


def test_a_planar_flow_refuses_stopped_gradient_objectives_in_one_sentence() -> None:
    model = vae("planar:2")
    with pytest.raises(ValueError, match="a planar flow has no inverse.*use elbo or iwae"):
        iwae_bound(model, torch.rand(3, D), 2, gradient="dreg")


# -- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "message"), [
    ("householder", "unknown guide family 'householder'; choose one of diagonal, full, planar:K, iaf:K, "
                    "spline:K"),
    ("iaf:0", "guide family 'iaf:0': the number of steps K must be an integer >= 1"),
    ("planar:-2", "guide family 'planar:-2': the number of steps K must be an integer >= 1"),
    ("spline:two", "guide family 'spline:two': the number of steps K must be an integer >= 1"),
    ("iaf", "guide family 'iaf' needs its number of steps: iaf:K with K >= 1, e.g. iaf:4"),
    ("full:3", "guide family 'full' takes no number of steps, got 'full:3'"),
])
def test_a_bad_guide_family_is_one_clear_error(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        make_guide_family(spec)
    assert str(error.value) == message
    with pytest.raises(ConfigError) as error:
        ModelConfig(posterior=spec)
    assert str(error.value) == f"model.posterior: {message}"
    with pytest.raises(ValueError, match="guide family"):
        vae(spec)


def test_a_flow_built_directly_refuses_k_below_one() -> None:
    for cls in (PlanarFlowGuide, IAFGuide, SplineFlowGuide):
        with pytest.raises(ValueError, match=r"needs a number of steps K >= 1 \(.*:K\), got 0"):
            cls(0)


def test_the_old_config_key_is_read_as_posterior() -> None:
    from vaelab.settings import build

    assert build(ModelConfig, {"guide_family": "full"}, "model").posterior == "full"


def test_hierarchical_models_keep_the_diagonal_guide() -> None:
    with pytest.raises(ConfigError, match="model.posterior: stacked stochastic layers"):
        ModelConfig(upper_latents=(2,), posterior="iaf:2")


class _BernoulliPrior(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.register_buffer("logits", torch.zeros(d))

    def forward(self, _guide: object) -> Independent:
        return Independent(Bernoulli(logits=self.logits), 1)


@pytest.mark.parametrize("spec", ("iaf:2", "planar:1"))
def test_a_flow_on_a_discrete_latent_is_one_clear_error(spec: str) -> None:
    message = f"the latent is discrete, but the guide family '{spec}' is a density over real vectors"
    with pytest.raises(ValueError, match=message):  # a VAE whose prior is over {0, 1}^d
        VAE.from_networks(nn.Linear(D, make_guide_family(spec).num_params(2)), nn.Linear(2, D),
                          "gaussian-fixed", latent_dim=2, data_shape=(D,), prior=_BernoulliPrior(2),
                          posterior=spec)
    with pytest.raises(ValueError, match=f"latent 'b': {message}"):  # a graph's non-root latent
        GraphModel(
            Latent("z", prior=_NormalPrior(2), guide=guide("diagonal", 2), guide_parents=("x",)),
            Latent("b", parents=("z",), conditional=ConditionalDistribution(
                nn.Linear(2, 2), BernoulliFamily(), (2,), (2,)), guide=guide(spec, 2), guide_parents=("x",)),
            Observed("x", parents=("z", "b"), conditional=ConditionalDistribution(
                nn.Linear(4, D), GaussianFamily(0.5), (D,), (4,))))


class _NormalPrior(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.register_buffer("zero", torch.zeros(d))

    def forward(self, _guide: object) -> Independent:
        return Independent(Normal(self.zero, torch.ones_like(self.zero)), 1)


def test_a_graph_latent_takes_a_guide_family_by_name() -> None:
    model = GraphModel(
        Latent("z", prior=_NormalPrior(2), guide=ConditionalDistribution(
            nn.Linear(D, make_guide_family("iaf:2").num_params(2)), "iaf:2", (2,), (D,)),
            guide_parents=("x",)),
        Observed("x", parents=("z",), conditional=ConditionalDistribution(
            nn.Linear(2, D), GaussianFamily(0.5), (D,), (2,))))
    assert isinstance(model.guides["z"].family, IAFGuide)
    value = iwae_bound(model, torch.rand(4, D), 3, gradient="dreg")
    value.loss.backward()
    assert torch.isfinite(value.loss)


def test_the_catalog_knows_which_families_take_steps() -> None:
    for name in components.guide_families:
        assert components.guide_family_takes_steps(name) == components.guide_families.get(name).takes_steps
