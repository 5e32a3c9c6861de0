"""The deep top-down VAE: shapes, the shared path, exact log p(x) on a tiny instance, bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.training.helpers import tiny_config
from vaelab.models import ModelConfig, build_model
from vaelab.models.deep import DeepVAE, GroupLatents, soft_bound
from vaelab.objectives import elbo, importance_sampled_log_marginal, iwae_bound
from vaelab.settings import ConfigError
from vaelab.training import fit, read_metrics


def deep(groups: int = 3, latent_dim: int = 4, width: int = 16,
         shape: tuple[int, ...] = (1, 5, 5)) -> DeepVAE:
    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture="deep", groups=groups, latent_dim=latent_dim,
                                    hidden=(width,)), shape)
    assert isinstance(model, DeepVAE)
    return model


def test_latents_come_one_tensor_per_group_next_to_the_data_first() -> None:
    model = deep(groups=3, latent_dim=4)
    x = torch.bernoulli(torch.rand(5, 1, 5, 5))
    z, log_q = model.guide_sample(x, (7,))
    assert isinstance(z, GroupLatents) and len(z) == 3
    assert [t.shape for t in z] == [(7, 5, 4)] * 3 and log_q.shape == (7, 5)
    z, log_q_groups = model.guide_sample_groups(x)
    assert log_q_groups.shape == (5, 3)
    assert model.log_prior_groups(z).shape == (5, 3)
    assert [t.shape for t in model.prior_sample((2,))] == [(2, 4)] * 3
    assert model.sample(6).shape == (6, 1, 5, 5) and model.reconstruct(x).shape == x.shape


def test_a_guide_draw_scores_the_same_with_and_without_its_carried_pass() -> None:
    model = deep()
    x = torch.bernoulli(torch.rand(4, 1, 5, 5))
    z, _ = model.guide_sample(x, (3,))
    plain = tuple(t.clone() for t in z)  # no carried pass: the path is run again from z
    torch.testing.assert_close(model.log_joint(x, z), model.log_joint(x, plain))
    torch.testing.assert_close(model.log_prior(z) + model.log_likelihood(x, z), model.log_joint(x, plain))


def test_importance_sampling_matches_quadrature_on_a_tiny_instance() -> None:
    """Two groups of one dimension: log p(x) = log ∫∫ p(z_2) p(z_1 | z_2) p(x | z) dz on a grid."""
    model = deep(groups=2, latent_dim=1, width=8, shape=(3,))
    with torch.no_grad():  # a posterior far from the prior, so the check is not trivial
        for p in model.parameters():
            p.mul_(1.5)
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    grid = torch.linspace(-9, 9, 1201)
    step = float(grid[1] - grid[0])
    top, bottom = torch.meshgrid(grid, grid, indexing="ij")
    z = (bottom.reshape(-1, 1, 1).expand(-1, 2, 1), top.reshape(-1, 1, 1).expand(-1, 2, 1))
    with torch.no_grad():
        exact = torch.logsumexp(model.log_joint(x, z), 0) + 2 * torch.log(torch.tensor(step))
    torch.manual_seed(0)
    estimate = importance_sampled_log_marginal(model, x, k=20000)
    assert (estimate.pareto_k < 0.7).all()  # weights the estimate can be trusted with
    torch.testing.assert_close(estimate.log_px, exact, atol=0.03, rtol=0)
    bound = iwae_bound(model, x.repeat(500, 1), 10).bound.reshape(500, 2).mean(0)  # E[bound]
    assert (bound <= exact + 0.02).all() and (bound > exact - 2).all()


def test_temperature_narrows_every_group() -> None:
    model = deep(groups=2, latent_dim=3)
    torch.manual_seed(0)
    cold = torch.stack(list(model.prior_sample((4000,), temperature=0.1)))
    torch.manual_seed(0)
    warm = torch.stack(list(model.prior_sample((4000,))))
    assert cold.std(1).mean() < 0.2 * warm.std(1).mean()


def test_under_bf16_autocast_each_group_keeps_its_distributions_in_float32() -> None:
    model = deep(groups=2, latent_dim=3)
    group = model.groups[1]
    state = torch.randn(4, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feature = torch.nn.functional.linear(torch.randn(4, 16), torch.eye(16))  # bf16, as a layer's
        assert feature.dtype == torch.bfloat16
        prior = group.prior(state, 1)
        posterior = group.posterior(state, feature, prior, 1)
        kl = torch.distributions.kl_divergence(posterior, prior)
    for dist in (prior, posterior):
        assert dist.base_dist.loc.dtype == dist.base_dist.scale.dtype == torch.float32
    prior32 = group.prior(state, 1)
    exact = torch.distributions.kl_divergence(group.posterior(state, feature.float(), prior32, 1), prior32)
    torch.testing.assert_close(kl, exact, atol=0.05, rtol=0.05)  # bf16 products, float32 parameters


def test_log_scales_are_soft_bounded() -> None:
    t = torch.tensor([-100.0, -1e-3, 0.0, 1e-3, 100.0])
    out = soft_bound(t)
    assert out.abs().max() <= 7.0 and torch.allclose(out[1:4], t[1:4], atol=1e-6)


@pytest.mark.parametrize("settings, named", [
    ({"architecture": "deep", "groups": 0}, "groups"),
    ({"architecture": "mlp", "groups": 3}, "groups"),
    ({"architecture": "deep", "upper_latents": (4,)}, "upper_latents"),
    ({"architecture": "deep", "posterior": "iaf:2"}, "posterior"),
])
def test_bad_settings_are_one_clear_error(settings: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        ModelConfig(**settings)


def test_trains_with_per_group_kl_records_and_resumes_exactly(tmp_path: Path) -> None:
    def config(epochs: int) -> object:
        return tiny_config(epochs=epochs, kl_warmup_steps=4, kl_balance=True, grad_skip=1e4,
                           free_bits=0.05).with_overrides(
            {"model": {"architecture": "deep", "groups": 2, "latent_dim": 3, "hidden": (16,)}})

    fit(config(3), tmp_path / "straight", progress=False, log=lambda _: None)
    fit(config(1), tmp_path / "split", progress=False, log=lambda _: None)
    fit(config(3), tmp_path / "split", resume=True, progress=False, log=lambda _: None)
    straight = read_metrics(tmp_path / "straight")
    resumed = read_metrics(tmp_path / "split")
    drop = {"seconds"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in straight] == [
        {k: v for k, v in r.items() if k not in drop} for r in resumed]
    last = straight[-1]
    assert {"train_kl_z1", "train_kl_z2", "train_skipped_update"} <= set(last)
    assert last["valid_bound"] > straight[0]["valid_bound"]


def test_the_gap_tools_optimise_the_bottom_up_features_per_image() -> None:
    from vaelab.objectives.local_guide import local_guide, optimized_elbo

    model = deep(groups=2, latent_dim=3)
    x = torch.bernoulli(torch.rand(6, 1, 5, 5))
    guide = local_guide(model, x)
    assert guide.eta.shape == (6, 2 * 16)  # each group's 16 features, laid end to end
    torch.manual_seed(0)
    found = optimized_elbo(model, x, steps=60, lr=5e-2, eval_samples=4000)
    torch.manual_seed(1)
    amortized = elbo(model, x, samples=4000, analytic_kl=False).bound
    torch.testing.assert_close(found.amortized, amortized, atol=0.15, rtol=0)  # L[q] at the start
    assert found.optimized.mean() > found.amortized.mean()  # q* per image beats the encoder's q


def test_a_deep_vae_from_your_own_cells_trains_with_vaelab_fit(tmp_path: Path) -> None:
    """The Python road: your own modules for each piece, trained by `vaelab.fit` (per-group KL terms
    and free bits per group included)."""
    from torch import nn

    import vaelab
    from vaelab.distributions.families import make_family
    from vaelab.models import ConditionalDistribution
    from vaelab.models.deep import TopDownGroup

    torch.manual_seed(0)
    width, d = 12, 2
    bottom_up = [nn.Sequential(nn.Flatten(), nn.Linear(25, width), nn.Tanh()),
                 nn.Sequential(nn.Linear(width, width), nn.Tanh())]
    groups = [TopDownGroup(nn.Linear(width, 2 * d), nn.Linear(2 * width, 2 * d),
                           nn.Sequential(nn.Linear(width + d, width), nn.Tanh()), (d,)) for _ in range(2)]
    decoder = ConditionalDistribution(nn.Linear(width, 25), make_family("bernoulli", 0.1), (1, 5, 5),
                                      (width,))
    model = DeepVAE(bottom_up, groups, torch.zeros(width), decoder)
    x = (torch.rand(3, 1, 5, 5) > 0.5).float().repeat(32, 1, 1, 1)
    before = elbo(model, x).bound.mean().item()
    run = vaelab.fit(model, x, epochs=5, batch_size=16, lr=1e-2, free_bits=0.1, run_dir=tmp_path / "r",
                     progress=False, log=lambda _: None)
    assert {"train_kl_z1", "train_kl_z2", "train_kl_free_bits"} <= set(run.history[-1])
    assert elbo(model, x).bound.mean().item() > before + 2.0
    # evaluated and reported from Python as any model is
    test = x[:8]
    scores = vaelab.evaluate(model, test, k=50)
    assert scores["log_px_is"]["n"] == 8 and scores["log_px_is"]["mean"] >= scores["elbo"]["mean"] - 0.5
    page = vaelab.report(model, run.run_dir, test)
    assert "Latent groups" in Path(page).read_text()


def test_the_convolutional_preset_puts_groups_on_feature_maps_at_two_resolutions() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture="deep-conv", groups=3, latent_dim=2, hidden=(8,),
                                    conv_channels=(8, 8)), (1, 28, 28))
    assert isinstance(model, DeepVAE)
    x = torch.bernoulli(torch.rand(4, 1, 28, 28))
    z, log_q = model.guide_sample(x, (2,))
    assert [t.shape for t in z] == [(2, 4, 2, 14, 14), (2, 4, 2, 7, 7), (2, 4, 2, 7, 7)]
    assert log_q.shape == (2, 4) and model.sample(3).shape == (3, 1, 28, 28)
    plain = tuple(t.clone() for t in z)
    torch.testing.assert_close(model.log_joint(x, z), model.log_joint(x, plain))


@pytest.mark.parametrize("settings, shape, message", [
    ({"conv_channels": (8, 8, 8)}, (1, 28, 28), "does not divide into 3 halvings"),
    ({"conv_channels": (8, 8), "groups": 1}, (1, 28, 28), "cannot cover 2 resolutions"),
    ({}, (784,), "images"),
])
def test_the_convolutional_preset_refuses_what_it_cannot_build(settings: dict, shape: tuple,
                                                              message: str) -> None:
    config = ModelConfig(**{"architecture": "deep-conv", "groups": 2, "latent_dim": 2, "hidden": (8,),
                            **settings})
    with pytest.raises(ValueError, match=message):
        build_model(config, shape)


def test_the_gap_tools_take_features_at_several_resolutions() -> None:
    """A deep-conv model's bottom-up features differ in shape: q* optimises them laid end to end."""
    from vaelab.objectives.local_guide import local_guide, optimized_elbo

    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture="deep-conv", groups=2, latent_dim=2, hidden=(4,),
                                    conv_channels=(4, 4)), (1, 8, 8))
    x = torch.bernoulli(torch.rand(3, 1, 8, 8))
    guide = local_guide(model, x)
    assert guide.eta.shape == (3, 4 * 4 * 4 + 4 * 2 * 2)  # a 4×4 and a 2×2 map of 4 channels
    torch.manual_seed(1)
    drawn = guide.family(guide.eta).rsample((5,))
    assert [t.shape for t in drawn] == [(5, 3, 2, 4, 4), (5, 3, 2, 2, 2)]
    torch.manual_seed(2)
    found = optimized_elbo(model, x, steps=40, lr=5e-2, eval_samples=2000)
    assert found.optimized.mean() > found.amortized.mean()


def test_dropout_regularises_training_only_and_is_absent_at_zero() -> None:
    shape = (1, 5, 5)
    plain = deep()
    torch.manual_seed(0)
    dropped = build_model(ModelConfig(architecture="deep", groups=3, latent_dim=4, hidden=(16,),
                                      dropout=0.5), shape)
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropped.modules()) == 3 + 1  # each cell, the decoder
    x = torch.bernoulli(torch.rand(4, 1, 5, 5))
    z = dropped.prior_sample((4,))
    dropped.train()
    assert not torch.equal(dropped.log_likelihood(x, z), dropped.log_likelihood(x, z))
    dropped.eval()
    torch.testing.assert_close(dropped.log_likelihood(x, z), dropped.log_likelihood(x, z))
    with pytest.raises(ConfigError, match="dropout"):
        ModelConfig(architecture="mlp", dropout=0.1)
    with pytest.raises(ConfigError, match="dropout"):
        ModelConfig(architecture="deep", dropout=1.0)


def test_batch_normalization_trains_on_batch_statistics_and_scores_with_running_ones() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture="deep", groups=2, latent_dim=3, hidden=(16,),
                                    normalization="batch"), (1, 5, 5))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 1 + 1 + 2 + 1  # the stem, one bottom-up layer, each cell, the decoder
    x = torch.bernoulli(torch.rand(8, 1, 5, 5))
    model.train()
    elbo(model, x).loss.backward()
    assert norms[0].num_batches_tracked == 1
    model.eval()
    z = model.prior_sample((4,))
    torch.testing.assert_close(model.log_joint(x[:4], z), model.log_joint(x[:4], z))
    assert importance_sampled_log_marginal(model, x, k=5).log_px.shape == (8,)
    with pytest.raises(ConfigError, match="normalization"):
        ModelConfig(architecture="mlp", normalization="batch")
