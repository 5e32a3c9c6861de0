"""Free bits (Kingma et al. 2016): a KL floor λ that changes the loss, never the bound."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vaelab
from vaelab.kinds.semisupervised_experiment import semisupervised_experiment
from vaelab.models import ModelConfig, build_vae
from vaelab.objectives.registry import make_objective
from vaelab.settings import ConfigError
from vaelab.training.config import ExperimentConfig, TrainConfig
from vaelab.training.loop import configured_objective

SHAPE = (1, 4, 4)


def model_and_data() -> tuple[vaelab.VAE, torch.Tensor]:
    torch.manual_seed(0)
    model = build_vae(ModelConfig(latent_dim=3, hidden=(8,)), SHAPE)
    return model, torch.bernoulli(torch.full((16, *SHAPE), 0.4))


def seeded(objective, model, x, kl_weight: float = 1.0):
    torch.manual_seed(7)
    return objective(model, x, kl_weight)


@pytest.mark.parametrize("name", ["elbo", "elbo-stl"])
def test_lambda_zero_is_the_objective_of_before_bit_for_bit(name: str) -> None:
    model, x = model_and_data()
    before = seeded(make_objective(name, 2), model, x)
    off = seeded(make_objective(name, 2, 0.0), model, x)
    assert torch.equal(before.loss, off.loss) and torch.equal(before.bound, off.bound)
    assert set(off.terms) == {"reconstruction", "kl"}


@pytest.mark.parametrize(("samples", "kl_weight"), [(1, 1.0), (3, 0.5)])
def test_a_floor_changes_the_loss_as_computed_by_hand_and_not_the_bound(samples: int,
                                                                         kl_weight: float) -> None:
    model, x = model_and_data()
    plain = seeded(make_objective("elbo", samples), model, x, kl_weight)
    kl = plain.terms["kl"]
    for floor in (0.5 * kl.item(), 2.0 * kl.item() + 1.0):  # below the batch's KL, then above it
        floored = seeded(make_objective("elbo", samples, floor), model, x, kl_weight)
        assert torch.equal(floored.bound, plain.bound)  # the bound is what it was
        assert torch.equal(floored.terms["kl"], kl)
        expected = -plain.terms["reconstruction"] + kl_weight * max(floor, kl.item())
        assert floored.loss.item() == pytest.approx(expected.item(), rel=1e-6)
        assert floored.terms["kl_free_bits"].item() == pytest.approx(max(floor, kl.item()), rel=1e-6)


def test_below_the_floor_the_kl_gets_no_gradient() -> None:
    """max(λ, KL) = λ when the KL is below it: the gradient is the reconstruction's alone, the
    gradient of the loss with KL weight 0 at the same draws."""
    model, x = model_and_data()
    gradients = []
    for value in (seeded(make_objective("elbo", 1, 1e6), model, x),
                  seeded(make_objective("elbo", 1), model, x, kl_weight=0.0)):
        model.zero_grad()
        value.loss.backward()
        gradients.append([p.grad.clone() for p in model.encoder.parameters()])
    assert all(torch.allclose(a, b) for a, b in zip(*gradients, strict=True))


def test_an_objective_without_a_kl_term_refuses_free_bits() -> None:
    with pytest.raises(ValueError, match="free_bits: the objective 'iwae' has no KL term to floor"):
        make_objective("iwae", 5, 1.0)
    config = ExperimentConfig(train=TrainConfig(objective="iwae-dreg", samples=2, free_bits=1.0))
    with pytest.raises(ConfigError, match="^train.free_bits: the objective 'iwae-dreg' has no KL term"):
        configured_objective(config)


def test_the_setting_is_checked_and_semi_supervised_runs_refuse_it() -> None:
    with pytest.raises(ConfigError, match=r"^train.free_bits: must be >= 0 \(0 = off\), got -1"):
        TrainConfig(free_bits=-1.0)
    with pytest.raises(ConfigError, match="^train.free_bits: the semi-supervised objective"):
        semisupervised_experiment(ExperimentConfig(train=TrainConfig(free_bits=1.0)))
    with pytest.raises(ConfigError, match="^model.posterior: the semi-supervised models"):
        semisupervised_experiment(ExperimentConfig(model=ModelConfig(posterior="full")))


def test_fit_records_the_floored_term_beside_the_unchanged_bound(tmp_path: Path) -> None:
    model, x = model_and_data()
    run = vaelab.fit(model, x, epochs=1, batch_size=8, free_bits=2.0, run_dir=tmp_path / "r",
                     progress=False, log=lambda _line: None)
    record = run.history[-1]
    assert record["train_kl_free_bits"] >= 2.0
    assert {"train_bound", "train_kl", "train_reconstruction"} <= set(record)
    with pytest.raises(ValueError, match="free_bits: must be >= 0"):
        vaelab.fit(model, x, epochs=1, free_bits=-1.0, run_dir=tmp_path / "s")
    with pytest.raises(ValueError, match="free_bits: the objective 'iwae' has no KL term"):
        vaelab.fit(model, x, epochs=1, objective="iwae", free_bits=1.0, run_dir=tmp_path / "t")


def test_kl_balancing_weights_each_group_by_its_share_and_floors_come_first() -> None:
    """NVAE's KL balancing, by hand: per-group batch means k_g, weights γ_g = (k_g + 0.01) / mean
    of those (they average 1), the penalty Σ γ_g k_g; with free bits each k_g is floored first,
    and the weights carry no gradient."""
    from vaelab.objectives.elbo import kl_penalty

    kl = torch.tensor([[6.0, 0.5, 2.0], [2.0, 1.5, 0.0]], requires_grad=True)  # [B = 2, G = 3]
    means = torch.tensor([4.0, 1.0, 1.0])
    share = means + 0.01
    gamma = share / share.mean()
    terms: dict[str, torch.Tensor] = {}
    penalty = kl_penalty(kl, 0.0, True, terms)
    assert penalty.item() == pytest.approx((gamma * means).sum().item(), rel=1e-6)
    assert terms == {}
    penalty.backward()
    torch.testing.assert_close(kl.grad, (gamma / 2).expand(2, 3))  # γ held fixed: ∂/∂kl = γ / B
    floored = torch.tensor([4.0, 1.5, 1.5])  # free bits 1.5 nats per group, then the weights
    share = floored + 0.01
    penalty = kl_penalty(kl.detach(), 1.5, True, terms)
    assert penalty.item() == pytest.approx((share / share.mean() * floored).sum().item(), rel=1e-6)
    assert terms["kl_free_bits"].item() == pytest.approx(7.0)
    assert kl_penalty(kl.detach(), 0.0, False, {}).item() == pytest.approx(6.0)  # off: the sum
