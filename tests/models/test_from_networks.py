"""VAE.from_networks: your own encoder and decoder, checked once, then a VAE like any other."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vaelab.distributions import GaussianFamily
from vaelab.distributions.learned_priors import MixtureOfGaussiansPrior, VampPrior
from vaelab.models import VAE, ModelConfig, build_vae
from vaelab.nn import MLP
from vaelab.objectives import elbo, importance_sampled_log_marginal, iwae_bound

SHAPE = (1, 8, 8)


class TinyConvEncoder(nn.Module):
    """x [B, 1, 8, 8] -> [B, 2·d]: loc and log-scale of q(z | x)."""

    def __init__(self, latent_dim: int, out: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.head = nn.Linear(8 * 2 * 2, out or 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x))


class TinyConvDecoder(nn.Module):
    """z [B, d] -> logits [B, C, 8, 8] (C = 1 for a Bernoulli likelihood)."""

    def __init__(self, latent_dim: int, channels: int = 1) -> None:
        super().__init__()
        self.stem = nn.Linear(latent_dim, 8 * 2 * 2)
        self.up = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.ReLU(),
                                nn.ConvTranspose2d(4, channels, 4, stride=2, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.stem(z).reshape(-1, 8, 2, 2))


def binary(n: int) -> torch.Tensor:
    return torch.bernoulli(torch.rand(n, *SHAPE))


@pytest.mark.parametrize(("likelihood", "channels"), [("bernoulli", 1), ("gaussian", 2)])
def test_a_conv_pair_trains_and_evaluates(likelihood: str, channels: int) -> None:
    model = VAE.from_networks(TinyConvEncoder(3), TinyConvDecoder(3, channels), likelihood,
                              latent_dim=3, data_shape=SHAPE)
    x = binary(5)
    value = elbo(model, x)
    value.loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    for bound in (value.bound, iwae_bound(model, x, 4).bound,
                  importance_sampled_log_marginal(model, x, k=50).log_px):
        assert bound.shape == (5,) and torch.isfinite(bound).all()
    assert model.sample(2).shape == (2, *SHAPE) and model.latent_dim == 3
    assert model.data_kind == ("binary" if likelihood == "bernoulli" else "unit")


def test_the_built_in_weights_give_the_built_in_elbo() -> None:
    config = ModelConfig(latent_dim=4, hidden=(16,))
    reference = build_vae(config, SHAPE)
    encoder, decoder = MLP(SHAPE, (16,), 8), MLP((4,), (16,), 64)
    encoder.load_state_dict(reference.encoder.network.state_dict())
    decoder.load_state_dict(reference.decoder.network.state_dict())
    model = VAE.from_networks(encoder, decoder, "bernoulli", latent_dim=4, data_shape=SHAPE)
    x = binary(6)
    for analytic in (True, False):
        torch.manual_seed(3)
        a = elbo(model, x, analytic_kl=analytic).bound
        torch.manual_seed(3)
        b = elbo(reference, x, analytic_kl=analytic).bound
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_priors_by_name_or_module() -> None:
    def build(prior: object) -> VAE:
        return VAE.from_networks(TinyConvEncoder(3), TinyConvDecoder(3), latent_dim=3, data_shape=SHAPE,
                                 prior=prior, prior_components=4)

    assert isinstance(build("mog").prior_module, MixtureOfGaussiansPrior)
    assert isinstance(build("vamp").prior_module, VampPrior)
    mine = MixtureOfGaussiansPrior(3, 2)
    assert build(mine).prior_module is mine
    assert build(None).prior().event_shape == (3,)
    with pytest.raises(ValueError, match=r"prior must be an nn.Module or one of normal, mog, vamp"):
        build("laplace")
    with pytest.raises(ValueError, match=r"prior MixtureOfGaussiansPrior gives batch \(\), event \(5,\); "
                                         r"a VAE with latent_dim 3 needs batch \(\), event \(3,\)"):
        build(MixtureOfGaussiansPrior(5, 2))


def test_a_decoder_of_the_wrong_size_is_named() -> None:
    with pytest.raises(ValueError) as info:
        VAE.from_networks(TinyConvEncoder(3), TinyConvDecoder(3, channels=2), "bernoulli", latent_dim=3,
                          data_shape=SHAPE)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("decoder (z -> parameters of p(x | z)): network TinyConvDecoder maps "
                              "parents [2, 3] to [2, 2, 8, 8];")
    assert "BernoulliFamily over event shape (1, 8, 8) needs 64 numbers per example" in message


def test_an_encoder_of_the_wrong_size_is_named() -> None:
    with pytest.raises(ValueError) as info:
        VAE.from_networks(TinyConvEncoder(3, out=5), TinyConvDecoder(3), latent_dim=3, data_shape=SHAPE)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("encoder (x -> loc, log-scale of q(z | x)): network TinyConvEncoder maps "
                              "parents [2, 1, 8, 8] to [2, 5];")
    assert "DiagonalGaussianGuide over event shape (3,) needs 6 numbers per example" in message


def test_networks_that_fail_or_return_tuples_are_named() -> None:
    with pytest.raises(ValueError, match=r"^encoder .*: network MLP fails on parents of shape "
                                         r"\[2, 1, 6, 6\]: mat1 and mat2"):
        VAE.from_networks(MLP(SHAPE, (8,), 6), MLP((3,), (8,), 36), latent_dim=3, data_shape=(1, 6, 6))

    class PairEncoder(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x.flatten(1)[:, :3], x.flatten(1)[:, :3]

    with pytest.raises(ValueError, match=r"^encoder .*: network PairEncoder returned a tuple"):
        VAE.from_networks(PairEncoder(), TinyConvDecoder(3), latent_dim=3, data_shape=SHAPE)
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        VAE.from_networks(TinyConvEncoder(3), TinyConvDecoder(3), "poisson", latent_dim=3,
                          data_shape=SHAPE)


def test_a_family_object_is_accepted() -> None:
    model = VAE.from_networks(TinyConvEncoder(3), TinyConvDecoder(3), GaussianFamily(scale=0.2),
                              latent_dim=3, data_shape=SHAPE)
    assert torch.isfinite(elbo(model, torch.rand(2, *SHAPE)).bound).all()
