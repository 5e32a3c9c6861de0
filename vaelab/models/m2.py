"""M2, the class-conditional VAE of Kingma et al. (2014), "Semi-supervised learning with deep
generative models".

Generative model: p(y) = Cat(1/C), p(z) = Normal(0, I), p(x | y, z) = Family(f_dec([z, y])).
Guide: q(y | x) = Cat(π(x)) — the classifier — and q(z | x, y) = Normal(μ(x, y), diag s(x, y)²).
y enters every network as a one-hot vector, so any number of classes C ≥ 2 works.

The model offers the general latent-variable contract with latents (y, z) — y drawn from q(y | x),
not reparameterised — so importance sampling and the validation ELBO see an ordinary model. The
semi-supervised objective (objectives/semisupervised.py) instead sums over y exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Distribution

from vaelab.distributions.detach import detach_parameters
from vaelab.distributions.families import CategoricalFamily, Family, GaussianFamily
from vaelab.distributions.prior import StandardNormalPrior
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.nn.mlp import MLP

#: latents of M2: (one-hot y [*, C], z [*, d])
LabelledLatents = tuple[torch.Tensor, torch.Tensor]


class M2(LatentVariableModel):
    """p(x | y, z) p(y) p(z) with the guide q(y | x) q(z | x, y); see the module docstring.

    Parents are concatenated vectors: q(z | x, y) reads [flatten(x), y], p(x | y, z) reads [z, y];
    `classifier`, `encoder` and `decoder` are `ConditionalDistribution`s.
    """

    def __init__(self, classifier: ConditionalDistribution, encoder: ConditionalDistribution,
                 decoder: ConditionalDistribution, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"M2 needs >= 2 classes, got {num_classes}")
        self.classifier_net = classifier
        self.encoder = encoder
        self.decoder = decoder
        self.num_classes = num_classes
        self.latent_dim = encoder.event_shape[0]
        self.data_shape = decoder.event_shape
        self.data_kind = decoder.family.data_kind
        self.z_prior = StandardNormalPrior(self.latent_dim)
        self.register_buffer("class_logits", torch.zeros(num_classes), persistent=False)

    # --- the distributions -------------------------------------------------------------------
    def classifier(self, x: torch.Tensor) -> Categorical:
        """q(y | x): batch shape x's batch."""
        return self.classifier_net(x)

    def prior_y(self) -> Categorical:
        """p(y) = uniform over the C classes."""
        return Categorical(logits=self.class_logits, validate_args=False)

    def prior_z(self) -> Distribution:
        """p(z) = Normal(0, I), event shape [latent_dim]."""
        return self.z_prior()

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        """Integer labels [*] -> float one-hot [*, C]; labels outside [0, C) are an error."""
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got values in "
                             f"[{int(y.min())}, {int(y.max())}]")
        return F.one_hot(y.long(), self.num_classes).float()

    def posterior(self, x: torch.Tensor, y: torch.Tensor) -> Distribution:
        """q(z | x, y) for one-hot y [*batch, C] and x [*batch, *data_shape]."""
        flat = x.reshape(*y.shape[:-1], math.prod(self.data_shape))
        return self.encoder(torch.cat([flat, y.to(flat.dtype)], -1))

    def likelihood(self, y: torch.Tensor, z: torch.Tensor) -> Distribution:
        """p(x | y, z) for one-hot y [*batch, C] and z [*batch, d] (sample dims broadcast)."""
        y = y.expand(*z.shape[:-1], self.num_classes)
        return self.decoder(torch.cat([z, y.to(z.dtype)], -1))

    # --- the general latent-variable contract, latents (y, z) ----------------------------------
    def guide_sample(self, x: torch.Tensor, sample_shape: tuple[int, ...] = (),
                     stop_guide_gradient: bool = False) -> tuple[LabelledLatents, torch.Tensor]:
        """y ~ q(y | x) (a draw, not reparameterised), z ~ q(z | x, y) (reparameterised);
        log q(y, z | x) = log q(y | x) + log q(z | x, y)."""
        q_y = self.classifier(x)
        label = q_y.sample(sample_shape)
        y = F.one_hot(label, self.num_classes).to(x.dtype)
        xs = x.expand(*sample_shape, *x.shape)
        q_z = self.posterior(xs, y)
        z = q_z.rsample()
        scorer = detach_parameters(q_z) if stop_guide_gradient else q_z
        log_q_y = (Categorical(logits=q_y.logits.detach(), validate_args=False)
                   if stop_guide_gradient else q_y).log_prob(label)
        return (y, z), log_q_y + scorer.log_prob(z)

    def log_prior(self, latents: LabelledLatents) -> torch.Tensor:
        y, z = latents
        return self.prior_y().log_prob(y.argmax(-1)) + self.prior_z().log_prob(z)

    def log_likelihood(self, x: torch.Tensor, latents: LabelledLatents) -> torch.Tensor:
        y, z = latents
        return self.likelihood(y, z).log_prob(x)

    def prior_sample(self, sample_shape: tuple[int, ...]) -> LabelledLatents:
        y = F.one_hot(self.prior_y().sample(sample_shape), self.num_classes).float()
        return y, self.prior_z().sample(sample_shape)

    def decode_mean(self, latents: LabelledLatents) -> torch.Tensor:
        y, z = latents
        y = y.expand(*z.shape[:-1], self.num_classes)
        return self.decoder.mean(torch.cat([z, y.to(z.dtype)], -1))

    def encode_mean(self, x: torch.Tensor) -> LabelledLatents:
        """The most probable class under q(y | x) and the mean of q(z | x, y) for it."""
        y = F.one_hot(self.classifier(x).logits.argmax(-1), self.num_classes).to(x.dtype)
        return y, self.posterior(x, y).mean

    def style(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """E[z | x, y] for integer labels y: the "style" of x once its class is given."""
        return self.posterior(x, self.one_hot(y).to(x.dtype)).mean

    @torch.no_grad()
    def sample_class(self, labels: torch.Tensor) -> torch.Tensor:
        """E[x | y, z] for z ~ p(z), one image per integer label in `labels`."""
        z = self.prior_z().sample((labels.shape[0],))
        return self.decode_mean((self.one_hot(labels.to(z.device)), z))


@dataclass(frozen=True)
class M2Shape:
    """The networks of an M2: classifier hidden widths, encoder/decoder widths, latent size."""

    num_classes: int
    latent_dim: int = 50
    hidden: tuple[int, ...] = (500,)
    classifier_hidden: tuple[int, ...] = (500,)
    activation: str = "relu"


def build_m2(shape: M2Shape, data_shape: tuple[int, ...], likelihood: Family,
             in_scale: float = 1.0) -> M2:
    """An M2 for data of `data_shape` (an image [C, H, W] or a feature vector [D]).

    `in_scale` multiplies network inputs (1/255 for 8-bit data); the likelihood sees raw values.
    """
    c, d, act = shape.num_classes, shape.latent_dim, shape.activation
    dx = math.prod(data_shape)
    classifier = ConditionalDistribution(
        MLP(data_shape, shape.classifier_hidden, c, act, in_scale), CategoricalFamily(c), (),
        data_shape)
    # q(z | x, y): Normal with unbounded log-scale, as the VAE's guide
    encoder = ConditionalDistribution(
        _ScaledInput(MLP((dx + c,), shape.hidden, 2 * d, act), dx, in_scale),
        GaussianFamily(bound_log_scale=False), (d,), (dx + c,))
    decoder = ConditionalDistribution(
        MLP((d + c,), tuple(reversed(shape.hidden)), likelihood.params_per_element * dx, act),
        likelihood, data_shape, (d + c,))
    return M2(classifier, encoder, decoder, c)


class _ScaledInput(nn.Module):
    """Scale the x part of [x, y] (e.g. 8-bit pixels to [0, 1]) before the network."""

    def __init__(self, network: nn.Module, x_features: int, scale: float) -> None:
        super().__init__()
        self.network = network
        self.x_features = x_features
        self.scale = scale

    def forward(self, parents: torch.Tensor) -> torch.Tensor:
        if self.scale != 1.0:
            x, y = parents.split([self.x_features, parents.shape[-1] - self.x_features], -1)
            parents = torch.cat([x * self.scale, y], -1)
        return self.network(parents)
