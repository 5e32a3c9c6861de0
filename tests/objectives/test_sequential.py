"""The sequential ELBO and IWAE bound: identities and orderings that must hold."""

from __future__ import annotations

import pytest
import torch

from vaelab.data import PendulumConfig, simulate
from vaelab.data.sequences import SequenceBatch, frames_to_model_space
from vaelab.distributions.families import GaussianFamily
from vaelab.distributions.prior import StandardNormalPrior
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.ssm import SSMConfig, build_ssm
from vaelab.models.vae import VAE
from vaelab.objectives import elbo
from vaelab.objectives.sequential import (
    sequence_log_weights,
    sequential_elbo,
    sequential_iwae_bound,
    sequential_log_marginal,
)

SMALL = {"encoder_hidden": (32, 16), "rnn_hidden": 16, "combiner_hidden": 16, "decoder_hidden": (32,)}


def _batch(model_kind: str = "unit", n: int = 4, steps: int = 5, size: int = 16) -> SequenceBatch:
    data = simulate(PendulumConfig(image_size=size), n, steps, seed=0)
    return SequenceBatch(frames_to_model_space(data.frames, model_kind), data.actions, data.mask)


def test_sequential_elbo_is_the_framewise_sum_when_the_transition_ignores_the_past() -> None:
    config = SSMConfig(transition="none", guide="frame", combiner="frame", latent_dim=3, **SMALL)
    model = build_ssm(config, (1, 16, 16), dt=0.05)
    # the same networks as a VAE applied to single frames
    encoder = ConditionalDistribution(model.encoder.network, GaussianFamily(bound_log_scale=False), (3,),
                                      (1, 16, 16))
    vae = VAE(StandardNormalPrior(3), encoder, model.emitter.decoder)
    batch = _batch()
    torch.manual_seed(7)
    sequential = sequential_elbo(model, batch)
    torch.manual_seed(7)  # the sequential loop draws one [B, d] sample per step, in time order
    framewise = sum(elbo(vae, batch.frames[:, t]).bound for t in range(batch.length))
    assert torch.allclose(sequential.bound, framewise, rtol=1e-5, atol=1e-3)


def test_iwae_with_one_sample_is_the_monte_carlo_elbo() -> None:
    model = build_ssm(SSMConfig(**SMALL), (1, 16, 16), dt=0.05)
    batch = _batch()
    torch.manual_seed(3)
    one = sequential_iwae_bound(model, batch, samples=1).bound
    torch.manual_seed(3)
    log_w = sequence_log_weights(model, batch, 1)[0]
    assert torch.allclose(one, log_w)
    # and in expectation it is the ELBO with analytic KL terms (within 4 standard errors)
    torch.manual_seed(4)
    with torch.no_grad():
        log_w = sequence_log_weights(model, batch, 500)
        analytic = sequential_elbo(model, batch, samples=500).bound
    stderr = log_w.std(0) / 500**0.5
    assert ((log_w.mean(0) - analytic).abs() < 4 * stderr + 1e-3).all()


def test_the_bound_grows_with_k() -> None:
    torch.manual_seed(0)
    model = build_ssm(SSMConfig(**SMALL), (1, 16, 16), dt=0.05)
    batch = _batch(n=6)
    estimates = []
    for k in (1, 10, 100):
        torch.manual_seed(11)
        draws = [sequential_log_marginal(model, batch, k).log_px for _ in range(3)]
        estimates.append(torch.stack(draws).mean())
    assert estimates[0] < estimates[1] < estimates[2]


def test_kl_warmup_and_free_bits_change_the_loss_not_the_bound() -> None:
    model = build_ssm(SSMConfig(**SMALL), (1, 16, 16), dt=0.05)
    batch = _batch()
    values = []
    for kwargs in ({}, {"kl_weight": 0.1}, {"free_bits": 5.0}):
        torch.manual_seed(5)
        values.append(sequential_elbo(model, batch, **kwargs))
    assert torch.equal(values[0].bound, values[1].bound) and torch.equal(values[0].bound, values[2].bound)
    assert values[1].loss < values[0].loss < values[2].loss  # free bits charge at least 5 nats per dim
    steps, dims = batch.length, 3
    reconstruction = values[0].terms["reconstruction_per_frame"] * steps
    assert values[2].loss >= (5.0 * steps * dims - reconstruction) / steps


def test_dropped_frames_contribute_nothing() -> None:
    model = build_ssm(SSMConfig(**SMALL), (1, 16, 16), dt=0.05)
    batch = _batch()
    mask = batch.mask.clone()
    mask[:, 2] = False
    scrambled = batch.frames.clone()
    scrambled[:, 2] = torch.rand_like(scrambled[:, 2])
    torch.manual_seed(9)
    a = sequential_elbo(model, SequenceBatch(batch.frames, batch.actions, mask)).bound
    torch.manual_seed(9)
    b = sequential_elbo(model, SequenceBatch(scrambled, batch.actions, mask)).bound
    assert torch.allclose(a, b)


def test_samples_and_bad_arguments() -> None:
    model = build_ssm(SSMConfig(**SMALL), (1, 16, 16), dt=0.05)
    batch = _batch()
    value = sequential_elbo(model, batch, samples=3)
    assert value.bound.shape == (4,) and value.loss.requires_grad
    value.loss.backward()
    assert model.dynamics.log_omega_squared.grad is not None
    with pytest.raises(ValueError, match="samples"):
        sequential_elbo(model, batch, samples=0)
    with pytest.raises(ValueError, match="samples"):
        sequential_iwae_bound(model, batch, samples=0)
