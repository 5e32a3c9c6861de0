"""Models wire conditional distributions as a graph, for any batch of samples."""

from __future__ import annotations

import pytest
import torch

from vaelab.distributions import make_family
from vaelab.models import ConditionalDistribution, ModelConfig, build_vae
from vaelab.nn import MLP


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "logistic8"])
def test_vae_distributions_have_the_right_shapes(architecture: str, likelihood: str) -> None:
    model = build_vae(ModelConfig(architecture=architecture, likelihood=likelihood, latent_dim=5,
                                  hidden=(32,), conv_channels=(4, 8)), (1, 28, 28))
    x = torch.rand(3, 1, 28, 28)
    q = model.posterior(x)
    assert q.batch_shape == (3,) and q.event_shape == (5,)
    z = q.rsample((7,))
    p = model.likelihood(z)
    assert p.batch_shape == (7, 3) and p.event_shape == (1, 28, 28)
    assert model.sample(4).shape == (4, 1, 28, 28)
    assert model.reconstruct(x).shape == (3, 1, 28, 28)


def test_conv_vae_handles_odd_rgb_images() -> None:
    model = build_vae(ModelConfig(architecture="conv", likelihood="gaussian", latent_dim=3,
                                  hidden=(16,), conv_channels=(4, 8)), (3, 30, 22))
    x = torch.rand(2, 3, 30, 22)
    assert model.likelihood(model.posterior(x).rsample()).log_prob(x).shape == (2,)


def test_conditional_distribution_is_family_of_network_output() -> None:
    net = MLP((3,), (8,), 4)
    cond = ConditionalDistribution(net, make_family("bernoulli"), (4,), (3,))
    parents = torch.randn(2, 5, 3)
    dist = cond(parents)
    torch.testing.assert_close(dist.base_dist.logits, net(parents.reshape(-1, 3)).reshape(2, 5, 4))
    with pytest.raises(ValueError, match=r"this distribution.s parents.*of shape \[batch, "):
        cond(torch.randn(2, 4))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("latent_dim", 0, "model.latent_dim"), ("likelihood", "poisson", "model.likelihood"),
     ("architecture", "rnn", "model.architecture"), ("prior_scale", -1.0, "model.prior_scale")],
)
def test_model_config_names_the_bad_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{field: value})


def test_same_seed_same_weights() -> None:
    torch.manual_seed(3)
    a = build_vae(ModelConfig(hidden=(16,)), (1, 8, 8))
    torch.manual_seed(3)
    b = build_vae(ModelConfig(hidden=(16,)), (1, 8, 8))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
