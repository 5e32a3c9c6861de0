"""The mixture of discretized logistics (PixelCNN++'s likelihood) is a proper distribution over
0..255 per element, is `logistic8` at K = 1, uses the edge bins at 0 and 255, stays finite at the
log-scale bounds, and a bad number of components is one clear error."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vaelab.distributions import DiscretizedLogisticMixtureFamily, make_family
from vaelab.models import ModelConfig

SHAPE = (3, 2, 2)  # an RGB event: every channel has its own mixture


def _eta(k: int, batch: int = 4, seed: int = 0, spread: float = 2.0) -> torch.Tensor:
    return torch.randn(batch, 3 * k, *SHAPE, generator=torch.Generator().manual_seed(seed)) * spread


def test_the_name_gives_the_number_of_components() -> None:
    assert make_family("logistic-mixture").params_per_element == 30  # K = 10 by default
    family = make_family("logistic-mixture:4")
    assert isinstance(family, DiscretizedLogisticMixtureFamily)
    assert family.params_per_element == 12 and family.data_kind == "byte"


@pytest.mark.parametrize("k", [1, 3])
def test_probabilities_over_the_256_values_sum_to_one_per_element(k: int) -> None:
    eta = _eta(k, batch=2)
    dist = make_family(f"logistic-mixture:{k}")(eta, 3).base_dist  # per element: batch [2, 3, 2, 2]
    values = torch.arange(256.0).reshape(256, 1, 1, 1, 1).expand(256, 2, *SHAPE)
    total = dist.log_prob(values).exp().sum(0)
    torch.testing.assert_close(total, torch.ones(2, *SHAPE), atol=1e-4, rtol=0)


def test_one_component_is_the_single_discretized_logistic() -> None:
    eta = _eta(1)
    x = torch.randint(0, 256, (4, *SHAPE)).float()
    x[0, 0] = 0.0
    x[1, 0] = 255.0
    mixture = make_family("logistic-mixture:1")(eta, 3)
    single = make_family("logistic8")(eta[:, 1:], 3)  # the logit of one component is irrelevant
    torch.testing.assert_close(mixture.log_prob(x), single.log_prob(x))
    torch.testing.assert_close(mixture.mean, single.mean)
    assert mixture.batch_shape == (4,) and mixture.event_shape == SHAPE


def test_the_extreme_values_take_the_edge_bins() -> None:
    k = 3
    eta = _eta(k)
    dist = make_family(f"logistic-mixture:{k}")(eta, 3).base_dist
    logits, raw_loc, log_scale = eta.movedim(1, -1).chunk(3, -1)
    loc, scale = torch.sigmoid(raw_loc) * 255.0, log_scale.clamp(-7, 7).exp() * 16.0
    log_pi = F.log_softmax(logits, -1)
    below = torch.logsumexp(log_pi + F.logsigmoid((0.5 - loc) / scale), -1)  # P(x <= 0.5)
    above = torch.logsumexp(log_pi + F.logsigmoid(-(254.5 - loc) / scale), -1)  # P(x >= 254.5)
    torch.testing.assert_close(dist.log_prob(torch.zeros(4, *SHAPE)), below)
    torch.testing.assert_close(dist.log_prob(torch.full((4, *SHAPE), 255.0)), above)


@pytest.mark.parametrize("log_scale", [-50.0, -6.99, 6.99, 50.0])
def test_gradients_are_finite_at_extreme_log_scales(log_scale: float) -> None:
    k = 2
    eta = _eta(k, spread=5.0)
    eta[:, 2 * k:] = log_scale
    eta.requires_grad_(True)
    x = torch.tensor([0.0, 1.0, 128.0, 254.0, 255.0]).repeat(13)[: 4 * 12].reshape(4, *SHAPE)
    log_p = make_family(f"logistic-mixture:{k}")(eta, 3).log_prob(x)
    log_p.sum().backward()
    assert torch.isfinite(log_p).all() and eta.grad is not None and torch.isfinite(eta.grad).all()


def test_samples_are_integers_and_follow_the_probabilities() -> None:
    eta = torch.zeros(1, 6, 1)
    eta[0, :2, 0] = torch.tensor([0.0, 1.0])  # π ∝ (1, e)
    eta[0, 2:4, 0] = torch.tensor([-2.0, 2.0])  # μ ≈ 30 and 225
    eta[0, 4:, 0] = -3.0  # s ≈ 0.8
    dist = make_family("logistic-mixture:2")(eta.expand(20_000, 6, 1), 1)
    x = dist.sample()
    assert x.shape == (20_000, 1) and (x == x.round()).all() and x.min() >= 0 and x.max() <= 255
    high = (x > 127).float().mean()
    assert abs(float(high) - float(torch.sigmoid(torch.tensor(1.0)))) < 0.015
    expected = float(torch.sigmoid(torch.tensor(1.0)) * 255 * torch.sigmoid(torch.tensor(2.0))
                     + torch.sigmoid(torch.tensor(-1.0)) * 255 * torch.sigmoid(torch.tensor(-2.0)))
    assert abs(float(dist.mean[0, 0]) - expected) < 1e-3
    assert abs(float(x.mean()) - expected) < 2.0


@pytest.mark.parametrize("spec", ["logistic-mixture:0", "logistic-mixture:x", "logistic-mixture:",
                                  "logistic-mixture:2:3", "logistic-mixture:-1"])
def test_a_bad_number_of_components_is_one_clear_error(spec: str) -> None:
    message = f"likelihood {spec!r}: the number of mixture components K must be an integer >= 1"
    with pytest.raises(ValueError) as info:
        make_family(spec)
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        ModelConfig(likelihood=spec)
    assert str(info.value) == f"model.likelihood: {message}"


def test_a_number_of_components_on_another_likelihood_is_refused() -> None:
    with pytest.raises(ValueError, match="likelihood 'logistic8' takes no number of components"):
        make_family("logistic8:3")
    with pytest.raises(ValueError, match="K >= 1"):
        DiscretizedLogisticMixtureFamily(0)
