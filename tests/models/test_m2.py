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
