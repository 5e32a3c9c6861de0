"""M2 and M1+M2 honour the latent-variable contract with latents (y, z)."""

from __future__ import annotations

import pytest
import torch

from vaelab.distributions.families import BernoulliFamily, GaussianFamily
from vaelab.models import ModelConfig, build_vae
from vaelab.models.m1m2 import StackedM1M2
from vaelab.models.m2 import M2Shape, build_m2


def tiny_m2(classes: int = 3) -> torch.nn.Module:
    return build_m2(M2Shape(classes, latent_dim=2, hidden=(8,), classifier_hidden=(8,)), (1, 4, 4),
                    BernoulliFamily())


def test_guide_sample_gives_one_hot_labels_and_a_joint_log_q() -> None:
    model = tiny_m2()
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.5))
    (y, z), log_q = model.guide_sample(x, (7,))
    assert y.shape == (7, 5, 3) and z.shape == (7, 5, 2) and log_q.shape == (7, 5)
    assert torch.equal(y.sum(-1), torch.ones(7, 5))
    label = y.argmax(-1)
    expected = model.classifier(x).log_prob(label) + model.posterior(x.expand(7, *x.shape), y).log_prob(z)
    torch.testing.assert_close(log_q, expected)
    assert model.log_joint(x, (y, z)).shape == (7, 5)


def test_prior_is_uniform_over_classes_and_samples_decode_to_images() -> None:
    model = tiny_m2(4)
    assert torch.allclose(model.prior_y().probs, torch.full((4,), 0.25))
    assert model.sample(6).shape == (6, 1, 4, 4)
    images = model.sample_class(torch.tensor([0, 3, 3]))
    assert images.shape == (3, 1, 4, 4) and ((images >= 0) & (images <= 1)).all()


def test_labels_outside_the_class_range_are_refused() -> None:
    model = tiny_m2(3)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.one_hot(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=">= 2 classes"):
        tiny_m2(1)


def test_stacked_model_reads_frozen_m1_features() -> None:
    m1 = build_vae(ModelConfig(latent_dim=3, hidden=(8,)), (1, 4, 4))
    m2 = build_m2(M2Shape(2, latent_dim=2, hidden=(8,), classifier_hidden=(8,)), (3,),
                  GaussianFamily())
    model = StackedM1M2(m1, m2)
    assert not any(p.requires_grad for p in model.m1.parameters())
    x = torch.bernoulli(torch.full((4, 1, 4, 4), 0.5))
    torch.testing.assert_close(model.features(x), m1.posterior(x).mean)
    assert model.sample_class(torch.tensor([1, 0])).shape == (2, 1, 4, 4)
    (y, z), log_q = model.guide_sample(x)
    assert model.log_likelihood(x, (y, z)).shape == (4,)
    with pytest.raises(ValueError, match="features of shape"):
        StackedM1M2(m1, build_m2(M2Shape(2, 2, (8,), (8,)), (5,), GaussianFamily()))


def test_stacked_model_samples_active_m1_features_only_in_training() -> None:
    torch.manual_seed(0)
    m1 = build_vae(ModelConfig(latent_dim=3, hidden=(8,)), (1, 4, 4))
    model = StackedM1M2(m1, build_m2(M2Shape(2, 2, (8,), (8,)), (3,), GaussianFamily()))
    x = torch.bernoulli(torch.full((64, 1, 4, 4), 0.5))
    posterior = m1.posterior(x)
    model.sample_features = True
    model.train()
    drawn = model.features(x)
    assert not torch.allclose(drawn, posterior.mean)
    # a draw from q(z1 | x): standardised residuals look like N(0, 1)
    residual = (drawn - posterior.mean) / posterior.stddev
    assert abs(float(residual.mean())) < 0.3 and 0.7 < float(residual.std()) < 1.3
    model.eval()  # evaluation and classification always see the means
    torch.testing.assert_close(model.features(x), posterior.mean)
    model.train()
    with torch.no_grad():  # M1's middle mean made constant: an inactive dimension, never sampled
        m1.encoder.network.layers[-1].weight[1].zero_()
    mask = model.mark_active(x, threshold=1e-4)
    assert mask.tolist() == [True, False, True]
    drawn = model.features(x)
    mean = m1.posterior(x).mean
    torch.testing.assert_close(drawn[:, 1], mean[:, 1])
    assert not torch.allclose(drawn[:, 0], mean[:, 0])


def tiny_auxiliary(kind: str, classes: int = 3) -> torch.nn.Module:
    return build_m2(M2Shape(classes, latent_dim=2, hidden=(8,), classifier_hidden=(8,),
                            auxiliary=kind, auxiliary_dim=3), (1, 4, 4), BernoulliFamily())


@pytest.mark.parametrize("kind", ["adgm", "sdgm"])
def test_auxiliary_models_draw_a_then_y_then_z_and_add_their_log_q(kind: str) -> None:
    torch.manual_seed(0)
    model = tiny_auxiliary(kind)
    assert model.name == kind and model.auxiliary.skip == (kind == "sdgm")
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.5))
    (y, z, a), log_q = model.guide_sample(x, (7,))
    assert y.shape == (7, 5, 3) and z.shape == (7, 5, 2) and a.shape == (7, 5, 3) and log_q.shape == (7, 5)
    expected = (model.auxiliary_posterior(x).log_prob(a) + model.classifier(x, a).log_prob(y.argmax(-1))
                + model.posterior(x.expand(7, *x.shape), y, a).log_prob(z))
    torch.testing.assert_close(log_q, expected)
    joint = model.log_joint(x, (y, z, a))
    by_parts = (model.likelihood(y, z, a).log_prob(x) + model.prior_z().log_prob(z)
                - torch.log(torch.tensor(3.0)) + model.log_auxiliary(x, y, z, a))
    torch.testing.assert_close(joint, by_parts)
    assert model.sample(4).shape == (4, 1, 4, 4) and model.reconstruct(x).shape == x.shape


@pytest.mark.parametrize("kind", ["adgm", "sdgm"])
def test_the_test_time_classifier_averages_q_y_over_fixed_draws_of_a(kind: str) -> None:
    from vaelab.models.m2 import CLASSIFIER_DRAWS

    model = tiny_auxiliary(kind)
    x = torch.bernoulli(torch.full((6, 1, 4, 4), 0.5))
    q_a = model.auxiliary_posterior(x)
    draws = q_a.mean + q_a.stddev * model.classifier_noise[:, None, :]
    assert draws.shape[0] == CLASSIFIER_DRAWS
    expected = model.classifier(x, draws).probs.mean(0)
    torch.testing.assert_close(model.classifier(x).probs, expected)
    torch.testing.assert_close(model.classifier(x[2:3]).probs, expected[2:3])  # alone, the same
    rebuilt = tiny_auxiliary(kind)  # the noise is fixed, not drawn from the global generator
    assert torch.equal(rebuilt.classifier_noise, model.classifier_noise)
    assert not any("noise" in key for key in model.state_dict())


def test_without_the_auxiliary_variable_m2_is_unchanged() -> None:
    model = tiny_m2()
    assert model.auxiliary is None and model.draw_auxiliary(torch.zeros(2, 1, 4, 4)) is None
    with pytest.raises(ValueError, match="no auxiliary variable"):
        model.auxiliary_posterior(torch.zeros(2, 1, 4, 4))


@pytest.mark.parametrize("kind", ["m2", "adgm", "sdgm"])
def test_the_unlabelled_bound_multiplies_a_repeated_image_once_and_gets_the_same_answer(
        kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaelab.models.conditional import ConditionalDistribution, concatenated
    from vaelab.objectives.semisupervised import unlabelled_bound

    model = tiny_m2() if kind == "m2" else tiny_auxiliary(kind)
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.5))
    torch.manual_seed(3)
    fast = unlabelled_bound(model, x)
    assert hasattr(model.encoder.network, "forward_parts")  # q(z | x, y (, a)) takes its parents in parts

    monkeypatch.setattr(ConditionalDistribution, "from_parts", lambda self, parts: self(concatenated(parts)))
    torch.manual_seed(3)
    slow = unlabelled_bound(model, x)
    for key in ("bound", "kl", "kl_a", "probs"):
        torch.testing.assert_close(fast[key], slow[key])
