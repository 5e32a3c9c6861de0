"""A graph-declared model is the same model as the hand-wired one, and every estimator applies."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.objectives.test_estimators import ppca
from vaelab.distributions import GaussianFamily, StandardNormalPrior, make_family
from vaelab.models import (
    VAE,
    ConditionalDistribution,
    GraphModel,
    HierarchicalVAE,
    Latent,
    LinearGaussianModel,
    ModelConfig,
    Observed,
    build_model,
    build_vae,
)
from vaelab.nn import MLP
from vaelab.objectives import (
    elbo,
    importance_sampled_log_marginal,
    iwae_bound,
    prior_monte_carlo_log_marginal,
)
from vaelab.objectives.ais import AISSchedule, annealed_importance_sampling

SHAPE = (1, 5, 5)


def graph_of_vae(vae: VAE) -> GraphModel:
    return GraphModel(
        Latent("z", prior=vae.prior_module, guide=vae.encoder, guide_parents=("x",)),
        Observed("x", parents=("z",), conditional=vae.decoder),
    )


def graph_of_hierarchical(model: HierarchicalVAE) -> GraphModel:
    """z3 -> z2 -> z1 -> x with the bottom-up guide x -> z1 -> z2 -> z3, same modules."""
    return GraphModel(
        Latent("z1", parents=("z2",), conditional=model.transitions[0], guide=model.encoders[0],
               guide_parents=("x",)),
        Latent("z2", parents=("z3",), conditional=model.transitions[1], guide=model.encoders[1],
               guide_parents=("z1",)),
        Latent("z3", prior=model.prior_module, guide=model.encoders[2], guide_parents=("z2",)),
        Observed("x", parents=("z1",), conditional=model.decoder),
    )


def binary(n: int) -> torch.Tensor:
    return torch.bernoulli(torch.rand(n, *SHAPE))


def seeded(fn, seed: int = 7):  # noqa: ANN001, ANN202 - any zero-argument call
    torch.manual_seed(seed)
    return fn()


def assert_same(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


# ------------------------------------------------------------------ the same model as VAE
def test_a_graph_declared_vae_is_the_vae() -> None:
    vae = build_vae(ModelConfig(latent_dim=4, hidden=(16,)), SHAPE)
    graph = graph_of_vae(vae)
    x = binary(6)
    (z,), log_q = seeded(lambda: graph.guide_sample(x, (3,)))
    z_ref, log_q_ref = seeded(lambda: vae.guide_sample(x, (3,)))
    assert_same(z, z_ref)
    assert_same(log_q, log_q_ref)
    assert_same(graph.log_joint(x, (z,)), vae.log_joint(x, z))
    assert_same(graph.log_joint(x, {"z": z}), vae.log_joint(x, z))
    a = seeded(lambda: elbo(graph, x, samples=2))
    b = seeded(lambda: elbo(vae, x, samples=2, analytic_kl=False))
    assert_same(a.bound, b.bound)
    assert_same(a.loss, b.loss)
    assert_same(seeded(lambda: iwae_bound(graph, x, 5)).bound, seeded(lambda: iwae_bound(vae, x, 5)).bound)
    assert_same(graph.encode_mean(x)[0], vae.encode_mean(x))
    assert_same(graph.decode_mean((z,)), vae.decode_mean(z))
    assert_same(seeded(lambda: graph.prior_sample((4,)))[0], seeded(lambda: vae.prior_sample((4,))))
    assert graph.data_shape == SHAPE and graph.data_kind == "binary" and graph.latent_dims == (4,)
    assert graph.factorisation == "p(z) p(x | z); q(z | x)"


def test_a_vamp_prior_on_a_graph_root_is_the_vaes() -> None:
    vae = build_vae(ModelConfig(latent_dim=4, hidden=(16,), prior="vamp", prior_components=3), SHAPE)
    graph = graph_of_vae(vae)
    z = torch.randn(5, 2, 4)
    assert_same(graph.log_prior((z,)), vae.log_prior(z))


# ------------------------------------------------------------------ the same as HierarchicalVAE
@pytest.mark.parametrize("prior", ["normal", "vamp"])
def test_a_graph_declared_stack_is_the_hierarchical_vae(prior: str) -> None:
    model = build_model(ModelConfig(latent_dim=6, hidden=(20,), upper_latents=(4, 3),
                                    upper_hidden=(10,), prior=prior, prior_components=4), SHAPE)
    assert isinstance(model, HierarchicalVAE)
    graph = graph_of_hierarchical(model)
    assert graph.order == ("z3", "z2", "z1", "x") and graph.guide_order == ("z1", "z2", "z3")
    # float64: the graph sums the layers' log-densities in topological order, the chain in its
    # own, and float32 rounding of −25-nat sums is 2e-6 on its own
    model.double()
    x = binary(4).double()
    z, log_q = seeded(lambda: graph.guide_sample(x, (3,)))
    z_ref, log_q_ref = seeded(lambda: model.guide_sample(x, (3,)))
    for a, b in zip(z, z_ref, strict=True):
        assert_same(a, b)
    assert_same(log_q, log_q_ref)
    assert_same(graph.log_prior(z), model.log_prior(z))
    assert_same(graph.log_joint(x, z), model.log_joint(x, z))
    assert_same(seeded(lambda: elbo(graph, x)).bound, seeded(lambda: elbo(model, x)).bound)
    assert_same(seeded(lambda: iwae_bound(graph, x, 4)).bound,
                seeded(lambda: iwae_bound(model, x, 4)).bound)
    for a, b in zip(seeded(lambda: graph.prior_sample((2,))), seeded(lambda: model.prior_sample((2,))),
                    strict=True):
        assert_same(a, b)
    for a, b in zip(graph.encode_mean(x), model.encode_mean(x), strict=True):
        assert_same(a, b)


# ------------------------------------------------------------------ linear-Gaussian ground truth
def linear(in_features: int, weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(in_features, weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def graph_of_linear_gaussian(lg: LinearGaussianModel, split: int | None = None) -> GraphModel:
    """PPCA as a graph. With `split`, z is two roots z1 = z[:split], z2 = z[split:] and the
    guide is q(z1 | x) q(z2 | x, z1) (zero weights on z1): x then has two parents, joined."""
    w, b, sigma = lg.weight.detach(), lg.bias.detach(), float(lg.log_noise.detach().exp())
    gw, gb, gs = lg.guide_weight.detach(), lg.guide_bias.detach(), lg.guide_log_scale.detach()
    data_dim, d = w.shape
    # guide: loc = (x − b) Gᵀ + g = x Gᵀ + (g − G b); log-scale is a constant
    guide_w = torch.cat([gw, torch.zeros_like(gw)])
    guide_b = torch.cat([gb - gw @ b, gs])
    gaussian_q = GaussianFamily(bound_log_scale=False)
    decoder = ConditionalDistribution(linear(d, w, b), GaussianFamily(scale=sigma), (data_dim,), (d,))
    if split is None:
        guide = ConditionalDistribution(linear(data_dim, guide_w, guide_b), gaussian_q, (d,), (data_dim,))
        return GraphModel(Latent("z", prior=StandardNormalPrior(d), guide=guide, guide_parents=("x",)),
                          Observed("x", parents=("z",), conditional=decoder))
    rows = [torch.arange(split), torch.arange(d, d + split)]
    rest = [torch.arange(split, d), torch.arange(d + split, 2 * d)]
    q1 = linear(data_dim, guide_w[torch.cat(rows)], guide_b[torch.cat(rows)])
    w2 = torch.cat([guide_w[torch.cat(rest)], torch.zeros(2 * (d - split), split)], dim=1)
    q2 = linear(data_dim + split, w2, guide_b[torch.cat(rest)])
    return GraphModel(
        Latent("z1", prior=StandardNormalPrior(split),
               guide=ConditionalDistribution(q1, gaussian_q, (split,), (data_dim,)),
               guide_parents=("x",)),
        Latent("z2", prior=StandardNormalPrior(d - split),
               guide=ConditionalDistribution(q2, gaussian_q, (d - split,), (data_dim + split,)),
               guide_parents=("x", "z1")),
        Observed("x", parents=("z1", "z2"), conditional=decoder),
    )


def exact_ppca(data_dim: int, latent_dim: int) -> LinearGaussianModel:
    """Orthogonal columns: a diagonal posterior, so the guide can be exact."""
    model = LinearGaussianModel(data_dim, latent_dim, noise_scale=0.4)
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(data_dim, latent_dim))
        model.weight.copy_(q * torch.linspace(2.0, 0.7, latent_dim))
        model.bias.normal_()
    model.set_guide_to_posterior()
    return model


@pytest.mark.parametrize("split", [None, 2])
def test_an_exact_guide_makes_importance_sampling_exact(split: int | None) -> None:
    lg = exact_ppca(6, 3)
    graph = graph_of_linear_gaussian(lg, split)
    x = torch.randn(16, 6)
    exact = lg.exact_log_marginal(x).detach()
    z, _ = graph.guide_sample(x, (2,))
    z_whole = z[0] if split is None else torch.cat(z, -1)
    assert_same(graph.log_joint(x, z).detach(), lg.log_joint(x, z_whole).detach())
    torch.testing.assert_close(importance_sampled_log_marginal(graph, x, k=3).log_px, exact,
                               atol=1e-4, rtol=0)


def test_importance_sampling_on_a_graph_converges_with_k() -> None:
    lg, x = ppca(10, 3, 0.5, 1.4)  # a guide near, but not at, the posterior
    graph = graph_of_linear_gaussian(lg)
    x = x[:16]
    exact = lg.exact_log_marginal(x).detach()
    few = (importance_sampled_log_marginal(graph, x, k=2).log_px - exact).abs().mean()
    many = (importance_sampled_log_marginal(graph, x, k=20_000, sample_budget=4096).log_px - exact).abs()
    assert many.max() < 0.05 and many.mean() < few / 5, (many.max(), few)


@pytest.mark.parametrize("split", [None, 2])
def test_every_estimator_runs_on_a_graph_and_ais_agrees(split: int | None) -> None:
    lg, x = ppca(8, 3, 0.5, 1.3)
    graph = graph_of_linear_gaussian(lg, split)
    x = x[:8]
    exact = lg.exact_log_marginal(x).detach()
    values = {
        "elbo": elbo(graph, x).bound,
        "iwae": iwae_bound(graph, x, 10).bound,
        "dreg": iwae_bound(graph, x, 10, gradient="dreg").bound,
        "is": importance_sampled_log_marginal(graph, x, k=5000).log_px,
        "prior": prior_monte_carlo_log_marginal(graph, x, k=2000).log_px,
    }
    torch.manual_seed(0)
    ais = annealed_importance_sampling(graph, x, chains=16,
                                       schedule=AISSchedule(steps=300, leapfrog_steps=5)).log_px
    for name, value in {**values, "ais": ais}.items():
        assert value.shape == (8,) and torch.isfinite(value).all(), name
    assert (values["is"] - exact).abs().max() < 0.1
    # the tolerances of tests/objectives/test_ais.py on the hand-written linear-Gaussian model
    assert (ais - values["is"]).mean().abs() < 0.2
    assert (ais - exact).mean().abs() < 0.15 and (ais - exact).abs().max() < 0.6


# ------------------------------------------------------------------ declarations that are refused
def gaussian_cd(out_dim: int, in_dim: int, net_out: int | None = None) -> ConditionalDistribution:
    return ConditionalDistribution(MLP((in_dim,), (8,), net_out or 2 * out_dim),
                                   GaussianFamily(), (out_dim,), (in_dim,))


def decoder(in_dim: int, net_out: int = 25) -> ConditionalDistribution:
    return ConditionalDistribution(MLP((in_dim,), (8,), net_out), make_family("bernoulli"), SHAPE,
                                   (in_dim,))


def encoder(out_dim: int) -> ConditionalDistribution:
    return ConditionalDistribution(MLP(SHAPE, (8,), 2 * out_dim), GaussianFamily(), (out_dim,), SHAPE)


def test_a_cycle_is_named() -> None:
    with pytest.raises(ValueError, match=r"generative graph has a cycle: (z1 -> z2 -> z1|z2 -> z1 -> z2)"):
        GraphModel(
            Latent("z1", parents=("z2",), conditional=gaussian_cd(3, 2), guide=encoder(3),
                   guide_parents=("x",)),
            Latent("z2", parents=("z1",), conditional=gaussian_cd(2, 3), guide=encoder(2),
                   guide_parents=("x",)),
            Observed("x", parents=("z1",), conditional=decoder(3)),
        )
    with pytest.raises(ValueError, match=r"guide has a cycle: (a -> b -> a|b -> a -> b)"):
        GraphModel(
            Latent("a", prior=StandardNormalPrior(2), guide=gaussian_cd(2, 2), guide_parents=("b",)),
            Latent("b", prior=StandardNormalPrior(2), guide=gaussian_cd(2, 2), guide_parents=("a",)),
            Observed("x", parents=("a", "b"), conditional=decoder(4)),
        )


def test_missing_parents_and_guides_are_named() -> None:
    z = Latent("z", prior=StandardNormalPrior(3), guide=encoder(3), guide_parents=("x",))
    with pytest.raises(ValueError, match=r"node 'x': parent 'w' is not a declared node \(declared: z, x\)"):
        GraphModel(z, Observed("x", parents=("w",), conditional=decoder(3)))
    with pytest.raises(ValueError, match=r"latent 'y': guide parent 'v' is not a declared node"):
        GraphModel(z, Latent("y", prior=StandardNormalPrior(3), guide=gaussian_cd(3, 3),
                             guide_parents=("v",)),
                   Observed("x", parents=("z",), conditional=decoder(3)))
    with pytest.raises(ValueError, match=r"latent 'z' needs a guide"):
        Latent("z", prior=StandardNormalPrior(3))
    with pytest.raises(ValueError, match=r"node 'x': parents must be a tuple .* \('z',\)"):
        Observed("x", parents="z", conditional=decoder(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"exactly one Observed node .* got 2: x, y"):
        GraphModel(z, Observed("x", parents=("z",), conditional=decoder(3)),
                   Observed("y", parents=("z",), conditional=decoder(3)))
    with pytest.raises(ValueError, match=r"latent 'y' has the observed node 'x' as a generative parent"):
        GraphModel(z, Latent("y", parents=("x",), conditional=gaussian_cd(2, 25), guide=encoder(2),
                             guide_parents=("x",)),
                   Observed("x", parents=("z",), conditional=decoder(3)))


def test_shape_mismatches_name_the_node_and_the_shapes() -> None:
    z = Latent("z", prior=StandardNormalPrior(3), guide=encoder(3), guide_parents=("x",))
    # a network whose output does not fit the family: 30 logits for a 1x5x5 Bernoulli
    with pytest.raises(ValueError, match=r"node 'x': p\(x \| z\): network MLP maps parents \[2, 3\] to "
                                         r"\[2, 30\]; BernoulliFamily over event shape \(1, 5, 5\) "
                                         r"needs 25 numbers per example"):
        GraphModel(z, Observed("x", parents=("z",), conditional=decoder(3, net_out=30)))
    # a conditional that reads the wrong parent shape
    with pytest.raises(ValueError, match=r"node 'x': p\(x \| z\) reads parents of shape \(4,\) but z has "
                                         r"shape \(3,\)"):
        GraphModel(z, Observed("x", parents=("z",), conditional=decoder(4)))
    # a network that cannot even read its parents
    broken = ConditionalDistribution(MLP((4,), (8,), 25), make_family("bernoulli"), SHAPE, (3,))
    with pytest.raises(ValueError, match=r"node 'x': p\(x \| z\): network MLP fails on parents of shape "
                                         r"\[2, 3\]"):
        GraphModel(z, Observed("x", parents=("z",), conditional=broken))
    # generative factor and guide disagree on the latent's shape
    with pytest.raises(ValueError, match=r"latent 'y': p\(y \| z\) has event shape \(2,\) but its guide "
                                         r"q\(y \| x\) has \(4,\)"):
        GraphModel(z, Latent("y", parents=("z",), conditional=gaussian_cd(2, 3), guide=encoder(4),
                             guide_parents=("x",)),
                   Observed("x", parents=("y",), conditional=decoder(4)))
    # a prior over the wrong number of dimensions
    with pytest.raises(ValueError, match=r"node 'z': prior StandardNormalPrior gives batch \(\), "
                                         r"event \(5,\); the guide needs batch \(\), event \(3,\)"):
        GraphModel(Latent("z", prior=StandardNormalPrior(5), guide=encoder(3), guide_parents=("x",)),
                   Observed("x", parents=("z",), conditional=decoder(3)))


def test_latents_by_name_tuple_or_tensor_and_wrong_counts() -> None:
    model = build_model(ModelConfig(latent_dim=6, hidden=(20,), upper_latents=(4, 3),
                                    upper_hidden=(10,)), SHAPE)
    graph = graph_of_hierarchical(model)
    z = graph.prior_sample((2,))
    by_name = graph.named(z)
    assert list(by_name) == ["z1", "z2", "z3"]
    assert_same(graph.log_prior(by_name), graph.log_prior(z))
    with pytest.raises(ValueError, match=r"missing \['z3'\]"):
        graph.log_prior({"z1": z[0], "z2": z[1]})
    with pytest.raises(ValueError, match="expected a tuple of 3 latents"):
        graph.log_prior(z[:2])
    sample = graph.ancestral_sample((5,))
    assert sample["x"].shape == (5, *SHAPE) and sample["z3"].shape == (5, 3)
    assert graph.sample(3).shape == (3, *SHAPE) and graph.reconstruct(binary(2)).shape == (2, *SHAPE)


def test_dry_runs_leave_batch_norm_statistics_alone() -> None:
    net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Linear(8, 25))
    GraphModel(Latent("z", prior=StandardNormalPrior(3), guide=encoder(3), guide_parents=("x",)),
               Observed("x", parents=("z",), conditional=ConditionalDistribution(
                   net, make_family("bernoulli"), SHAPE, (3,))))
    assert int(net[1].num_batches_tracked) == 0 and net.training and net[1].training


# ------------------------------------------------------------------ it trains
def test_a_few_adam_steps_reduce_the_elbo_loss() -> None:
    torch.manual_seed(0)
    graph = graph_of_vae(build_vae(ModelConfig(latent_dim=2, hidden=(32,)), SHAPE))
    prototypes = torch.bernoulli(torch.full((2, *SHAPE), 0.5))
    x = prototypes.repeat(16, 1, 1, 1)
    optimiser = torch.optim.Adam(graph.parameters(), lr=1e-2)

    def loss() -> float:
        with torch.no_grad():
            return float(seeded(lambda: elbo(graph, x, samples=8)).loss)

    before = loss()
    for _ in range(40):
        optimiser.zero_grad()
        elbo(graph, x).loss.backward()
        optimiser.step()
    after = loss()
    assert math.isfinite(after) and after < before - 2.0, (before, after)


def test_vaelab_fit_trains_a_graph_model(tmp_path) -> None:  # noqa: ANN001 - pytest's tmp_path
    import vaelab

    torch.manual_seed(0)
    model = graph_of_vae(build_vae(ModelConfig(latent_dim=2, hidden=(16,)), (1, 5, 5)))
    prototypes = torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(1)) > 0.5
    x = prototypes[torch.arange(64) % 3].float()  # three patterns a latent can tell apart
    before = elbo(model, x).bound.mean().item()
    run = vaelab.fit(model, x, epochs=20, batch_size=32, lr=1e-2, run_dir=tmp_path, progress=False,
                     log=lambda _: None)
    assert len(run.history) == 20 and elbo(model, x).bound.mean().item() > before + 1.0
    assert vaelab.evaluate(model, x, k=20)["log_px_is"]["n"] == 64
