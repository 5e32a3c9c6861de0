"""The M2 objective: exact enumeration over y, the labelled bound, the classification weight."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from vaelab.distributions.families import BernoulliFamily
from vaelab.models.m2 import M2Shape, build_m2
from vaelab.objectives.elbo import elbo
from vaelab.objectives.result import ObjectiveValue
from vaelab.objectives.semisupervised import (
    M1_FEATURES,
    PIXELS,
    SemiSupervisedObjective,
    bound_of,
    class_share_kl,
    classification_weight,
    labelled_bound,
    semisupervised_loss,
    unlabelled_bound,
)

CLASSES = 4


@pytest.fixture
def model() -> torch.nn.Module:
    return build_m2(M2Shape(CLASSES, latent_dim=3, hidden=(16,), classifier_hidden=(16,)), (1, 5, 5),
                    BernoulliFamily())


def test_enumeration_equals_a_brute_force_sum_over_classes(
        model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    """U(x) = Σ_y q(y|x) L(x, y) + H(q(y|x)): the batched pass over all classes equals a loop
    over the classes, given the same noise ε for each class's z = μ + σ ε."""
    x = torch.bernoulli(torch.full((6, 1, 5, 5), 0.4))
    eps = torch.randn(CLASSES, 6, 3)
    per_call = iter(eps)  # the loop's calls, one class each

    def rsample(self: Normal, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        noise = eps if self.loc.dim() == 3 else next(per_call)
        return self.loc + self.scale * noise

    monkeypatch.setattr(Normal, "rsample", rsample)
    batched = unlabelled_bound(model, x)["bound"]
    per_class = []
    for c in range(CLASSES):
        y = F.one_hot(torch.full((6,), c), CLASSES).float()
        per_class.append(labelled_bound(model, x, y)["bound"])
    probs = model.classifier(x).probs
    brute = sum(probs[:, c] * per_class[c] for c in range(CLASSES)) - (probs * probs.log()).sum(-1)
    torch.testing.assert_close(batched, brute, rtol=1e-5, atol=1e-4)


def test_enumerated_bound_is_the_mean_of_the_elbo_that_samples_y(model: torch.nn.Module) -> None:
    """The generic ELBO over latents (y, z), y drawn from q(y|x), has expectation U(x): summing
    y out only removes its noise. Seeded; tolerance 4 standard errors of the sampled mean."""
    x = torch.bernoulli(torch.full((3, 1, 5, 5), 0.4))
    with torch.no_grad():
        exact = torch.stack([unlabelled_bound(model, x)["bound"] for _ in range(200)]).mean(0)
        sampled = torch.stack([elbo(model, x).bound for _ in range(1500)])
    stderr = sampled.std(0) / sampled.shape[0] ** 0.5
    assert ((sampled.mean(0) - exact).abs() < 4 * stderr + 0.05).all()


def test_labelled_bound_parts_add_up_and_warm_up_touches_only_the_kl(model: torch.nn.Module) -> None:
    x = torch.bernoulli(torch.full((3, 1, 5, 5), 0.5))
    y = F.one_hot(torch.tensor([0, 1, 3]), CLASSES).float()
    torch.manual_seed(1)
    parts = labelled_bound(model, x, y, kl_weight=0.25)
    torch.testing.assert_close(parts["bound"], parts["reconstruction"] + parts["log_py"] - parts["kl"])
    torch.testing.assert_close(parts["objective"],
                               parts["reconstruction"] + parts["log_py"] - 0.25 * parts["kl"])
    torch.testing.assert_close(parts["log_py"], torch.full((3,), -torch.log(torch.tensor(4.0))))


def test_loss_combines_both_bounds_and_the_weighted_cross_entropy(model: torch.nn.Module) -> None:
    x_u = torch.bernoulli(torch.full((5, 1, 5, 5), 0.5))
    x_l = torch.bernoulli(torch.full((3, 1, 5, 5), 0.5))
    y_l = torch.tensor([2, 0, 1])
    value = semisupervised_loss(model, x_u, x_l, y_l, weight=0.0)
    heavier = semisupervised_loss(model, x_u, x_l, y_l, weight=10.0)
    assert value.bound.shape == (5,)
    # the same seeds are not shared, so compare through the reported cross-entropy
    assert heavier.terms["cross_entropy"] > 0
    value.loss.backward()
    classifier_grad = [p.grad for p in model.classifier_net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in classifier_grad)


def test_class_share_kl_is_the_kl_of_the_batch_mean_from_the_prior() -> None:
    uniform = torch.full((2,), 0.5)
    # every class predicted as often as the prior says: 0, however confident each example is
    assert class_share_kl(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), uniform) == pytest.approx(0.0, abs=1e-6)
    # every example given to class 0: KL((1, 0) ‖ (½, ½)) = log 2
    assert class_share_kl(torch.tensor([[1.0, 0.0]] * 3), uniform) == pytest.approx(math.log(2))
    shares, prior = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.5, 0.25, 0.25])
    by_hand = sum(float(s * math.log(s / q)) for s, q in zip(shares, prior, strict=True))
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.3, 0.2]])  # mean (0.7, 0.2, 0.1)
    assert class_share_kl(probs, prior) == pytest.approx(by_hand, rel=1e-5)


def test_class_balance_adds_lambda_times_the_share_kl_and_pulls_toward_a_given_up_class(
        model: torch.nn.Module) -> None:
    x_u = torch.bernoulli(torch.full((8, 1, 5, 5), 0.5))
    x_l = torch.bernoulli(torch.full((3, 1, 5, 5), 0.5))
    y_l = torch.tensor([2, 0, 1])

    def loss(class_balance: float, unlabelled_weight: float = 1.0) -> ObjectiveValue:
        torch.manual_seed(3)
        return semisupervised_loss(model, x_u, x_l, y_l, weight=1.0, class_balance=class_balance,
                                   unlabelled_weight=unlabelled_weight)

    plain, balanced = loss(0.0), loss(5.0)
    assert plain.terms["class_share_kl"] > 0
    torch.testing.assert_close(balanced.loss - plain.loss, 5.0 * plain.terms["class_share_kl"])
    torch.testing.assert_close(balanced.bound, plain.bound)  # the bound is untouched
    # every image labelled: no unlabelled term in the gradient, so no class-share term either
    torch.testing.assert_close(loss(5.0, unlabelled_weight=0.0).loss, loss(0.0, unlabelled_weight=0.0).loss)
    # its gradient: ∂/∂probs[b, c] = (log(share_c / p_c) + 1) / B, lowest for the class the
    # batch predicts least, so a step of descent raises that class's probability the most
    probs = model.classifier(x_u).probs.detach().requires_grad_()
    prior = model.prior_y().probs
    class_share_kl(probs, prior).backward()
    shares = probs.detach().mean(0)
    torch.testing.assert_close(probs.grad, ((shares / prior).log() + 1).expand(8, -1) / 8)
    assert int(probs.grad[0].argmin()) == int(shares.argmin())


def test_classification_weight_is_the_papers_alpha_per_labelled_example() -> None:
    assert classification_weight(50_000, 100) == pytest.approx(50.0)
    assert classification_weight(50_000, 50_000) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        classification_weight(10, 20)


def test_objective_draws_labelled_batches_from_its_set(model: torch.nn.Module) -> None:
    images = torch.randint(0, 2, (4, 1, 5, 5), dtype=torch.uint8)
    objective = SemiSupervisedObjective(images, torch.tensor([0, 1, 2, 3]), 1.0, batch_size=8)
    value = objective(model, torch.bernoulli(torch.full((2, 1, 5, 5), 0.5)), 1.0)
    assert torch.isfinite(value.loss) and set(value.terms) >= {"cross_entropy", "labelled_bound"}
    with pytest.raises(ValueError, match="as many labels"):
        SemiSupervisedObjective(images, torch.tensor([0, 1]), 1.0)


def test_the_bounds_of_m2_are_of_the_pixels_and_those_of_m1m2_of_m1s_features(
        model: torch.nn.Module) -> None:
    from vaelab.distributions.families import GaussianFamily
    from vaelab.models.config import ModelConfig, build_vae
    from vaelab.models.m1m2 import StackedM1M2

    m1 = build_vae(ModelConfig(latent_dim=3, hidden=(8,)), (1, 5, 5))
    stacked = StackedM1M2(m1, build_m2(M2Shape(2, 2, (8,), (8,)), (3,), GaussianFamily()))
    assert bound_of(model) == PIXELS
    assert bound_of(stacked) == M1_FEATURES
    with pytest.raises(TypeError, match="M2 or M1\\+M2"):
        bound_of(m1)


@pytest.mark.parametrize("auxiliary", ["adgm", "sdgm"])
def test_auxiliary_unlabelled_bound_equals_the_sum_over_classes_by_hand(
        auxiliary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ADGM / SDGM: with one draw a = μ_a + σ_a ε_a and per class z = μ_z + σ_z ε_c,
    U(x) = Σ_y q(y | a, x) [log p(x | y, z(, a)) + log p(y) − KL(q(z | a, y, x) ‖ N(0, I))
    + log p(a | ·) − log q(a | x)] − Σ_y q(y | a, x) log q(y | a, x), each density written out
    (the KL of the Gaussians in closed form, as the objective takes it)."""
    torch.manual_seed(0)
    model = build_m2(M2Shape(CLASSES, latent_dim=3, hidden=(16,), classifier_hidden=(16,),
                             auxiliary=auxiliary, auxiliary_dim=2), (1, 5, 5), BernoulliFamily())
    x = torch.bernoulli(torch.full((6, 1, 5, 5), 0.4))
    eps_a, eps_z = torch.randn(6, 2), torch.randn(CLASSES, 6, 3)

    def rsample(self: Normal, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        return self.loc + self.scale * (eps_z if self.loc.dim() == 3 else eps_a)

    monkeypatch.setattr(Normal, "rsample", rsample)
    batched = unlabelled_bound(model, x)["bound"]

    def gaussian(value: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return (-0.5 * ((value - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)

    flat = x.reshape(6, -1)
    q_a = model.auxiliary_posterior(x)
    a = q_a.mean + q_a.stddev * eps_a
    log_q_a = gaussian(a, q_a.mean, q_a.stddev)
    probs = torch.softmax(model.classifier_net(torch.cat([flat, a], -1)).logits, -1)
    by_hand = -(probs * probs.log()).sum(-1)
    for c in range(CLASSES):
        y = F.one_hot(torch.full((6,), c), CLASSES).float()
        q_z = model.encoder(torch.cat([flat, y, a], -1))
        z = q_z.mean + q_z.stddev * eps_z[c]
        decoder_in = torch.cat([z, y, a] if auxiliary == "sdgm" else [z, y], -1)
        mean = torch.sigmoid(model.decoder.network(decoder_in)).reshape(6, -1)
        log_px = (flat * mean.log() + (1 - flat) * (1 - mean).log()).sum(-1)
        a_parents = torch.cat([y, z] if auxiliary == "sdgm" else [flat, y, z], -1)
        p_a = model.auxiliary.prior(a_parents)
        mu, sigma = q_z.mean, q_z.stddev
        kl = (0.5 * (mu ** 2 + sigma ** 2 - 1) - sigma.log()).sum(-1)
        bound = log_px - math.log(CLASSES) - kl + gaussian(a, p_a.mean, p_a.stddev) - log_q_a
        by_hand = by_hand + probs[:, c] * bound
    torch.testing.assert_close(batched, by_hand, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("auxiliary", ["adgm", "sdgm"])
def test_auxiliary_loss_trains_every_network_and_reports_a_s_kl(auxiliary: str) -> None:
    model = build_m2(M2Shape(CLASSES, latent_dim=3, hidden=(16,), classifier_hidden=(16,),
                             auxiliary=auxiliary, auxiliary_dim=2), (1, 5, 5), BernoulliFamily())
    x = torch.bernoulli(torch.full((5, 1, 5, 5), 0.5))
    value = semisupervised_loss(model, x, x[:3], torch.tensor([2, 0, 1]), weight=5.0)
    value.loss.backward()
    assert "kl_a" in value.terms and torch.isfinite(value.terms["kl_a"])
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
