"""M2, the class-conditional VAE of Kingma et al. (2014), "Semi-supervised learning with deep
generative models", and with an auxiliary variable a the ADGM and SDGM of Maaløe et al. (2016),
"Auxiliary deep generative models".

Generative model: p(y) = Cat(1/C), p(z) = Normal(0, I), p(x | y, z) = Family(f_dec([z, y])).
Guide: q(y | x) = Cat(π(x)) — the classifier — and q(z | x, y) = Normal(μ(x, y), diag s(x, y)²).
y enters every network as a one-hot vector, so any number of classes C ≥ 2 works.

With an `AuxiliaryVariable` (models/auxiliary.py) the guide becomes q(a | x) q(y | a, x)
q(z | a, y, x) and the model gains p(a | x, y, z) (ADGM) or p(a | y, z) with p(x | a, y, z)
(SDGM); a enters the networks as one more concatenated vector. The classifier a user sees is
then q(y | x) = E_q(a|x)[q(y | a, x)], estimated with `CLASSIFIER_DRAWS` draws of a made from
fixed standard-normal noise, so an image always gets the same answer.

The model offers the general latent-variable contract with latents (y, z) — (y, z, a) with the
auxiliary variable — y drawn from q(y | ·), not reparameterised, so importance sampling and the
validation ELBO see an ordinary model. The semi-supervised objective (objectives/semisupervised.py)
instead sums over y exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Distribution

from vaelab.distributions.detach import detach_parameters
from vaelab.distributions.families import CategoricalFamily, Family, GaussianFamily
from vaelab.distributions.prior import StandardNormalPrior
from vaelab.models.auxiliary import ADGM, SDGM, AuxiliaryVariable
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.nn.mlp import MLP, unrepeated

#: latents of M2: (one-hot y [*, C], z [*, d]); of ADGM / SDGM: (y, z, a [*, d_a])
LabelledLatents = tuple[torch.Tensor, ...]
#: draws of a behind the test-time classifier q(y | x) ≈ (1/S) Σ_s q(y | a_s, x) (ADGM, SDGM)
CLASSIFIER_DRAWS = 10
#: seed of the fixed noise ε_s of those draws, a_s = μ_a(x) + σ_a(x) ε_s
CLASSIFIER_NOISE_SEED = 2016


class M2(LatentVariableModel):
    """p(x | y, z) p(y) p(z) with the guide q(y | x) q(z | x, y), and with `auxiliary` the ADGM /
    SDGM; see the module docstring.

    Parents are concatenated vectors: q(z | x, y) reads [flatten(x), y] (+ a), p(x | y, z) reads
    [z, y] (+ a for SDGM), q(y | a, x) reads [flatten(x), a]; `classifier`, `encoder` and
    `decoder` are `ConditionalDistribution`s.
    """

    def __init__(self, classifier: ConditionalDistribution, encoder: ConditionalDistribution,
                 decoder: ConditionalDistribution, num_classes: int,
                 auxiliary: AuxiliaryVariable | None = None) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"M2 needs >= 2 classes, got {num_classes}")
        self.classifier_net = classifier
        self.encoder = encoder
        self.decoder = decoder
        self.auxiliary = auxiliary
        self.num_classes = num_classes
        self.latent_dim = encoder.event_shape[0]
        self.data_shape = decoder.event_shape
        self.data_kind = decoder.family.data_kind
        self.z_prior = StandardNormalPrior(self.latent_dim)
        self.register_buffer("class_logits", torch.zeros(num_classes), persistent=False)
        if auxiliary is not None:
            noise = torch.randn(CLASSIFIER_DRAWS, auxiliary.dim,
                                generator=torch.Generator().manual_seed(CLASSIFIER_NOISE_SEED))
            self.register_buffer("classifier_noise", noise, persistent=False)

    @property
    def name(self) -> str:
        """"m2", "adgm" or "sdgm"."""
        return "m2" if self.auxiliary is None else self.auxiliary.name

    # --- the distributions -------------------------------------------------------------------
    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        """x [*batch, *data_shape] -> [*batch, D]."""
        batch = x.shape[:x.dim() - len(self.data_shape)]
        return x.reshape(*batch, math.prod(self.data_shape))

    def classifier(self, x: torch.Tensor, a: torch.Tensor | None = None) -> Categorical:
        """q(y | x): batch shape x's batch. With the auxiliary variable: q(y | a, x) for draws
        a [*sample, *batch, d_a], or without a the test-time q(y | x) ≈ mean_s q(y | a_s, x)."""
        if self.auxiliary is None:
            return self.classifier_net(x)
        if a is None:
            return self.predictive(x)
        flat = self._flat(x)
        flat = flat.expand(*a.shape[:-1], flat.shape[-1])
        return self.classifier_net.from_parts([flat, a.to(flat.dtype)])

    def predictive(self, x: torch.Tensor) -> Categorical:
        """q(y | x) ≈ (1/S) Σ_s q(y | a_s, x), a_s = μ_a(x) + σ_a(x) ε_s with S = CLASSIFIER_DRAWS
        fixed draws ε_s (the same for every image: an image's answer does not depend on where or
        when it is classified)."""
        assert self.auxiliary is not None
        q_a = self.auxiliary.posterior(self._flat(x))
        mean, std = q_a.mean, q_a.stddev
        noise = self.classifier_noise.reshape(CLASSIFIER_DRAWS, *(1,) * (mean.dim() - 1), -1)
        probs = self.classifier(x, mean + std * noise.to(mean.dtype)).probs.mean(0)
        return Categorical(probs=probs, validate_args=False)

    def auxiliary_posterior(self, x: torch.Tensor) -> Distribution:
        """q(a | x), event shape [d_a]; only for a model with an auxiliary variable."""
        if self.auxiliary is None:
            raise ValueError("this M2 has no auxiliary variable a")
        return self.auxiliary.posterior(self._flat(x))

    def draw_auxiliary(self, x: torch.Tensor, sample_shape: tuple[int, ...] = (),
                       stop_guide_gradient: bool = False) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(a, log q(a | x)) with a ~ q(a | x) reparameterised, shapes [*sample, *batch, d_a] and
        [*sample, *batch]; None for a model without the auxiliary variable (M2)."""
        if self.auxiliary is None:
            return None
        q_a = self.auxiliary_posterior(x)
        a = q_a.rsample(sample_shape)
        scorer = detach_parameters(q_a) if stop_guide_gradient else q_a
        return a, scorer.log_prob(a)

    def log_auxiliary(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor,
                      a: torch.Tensor) -> torch.Tensor:
        """log p(a | x, y, z) (ADGM) or log p(a | y, z) (SDGM) for one-hot y, z and a sharing
        their batch dims [*batch] (x [*batch or its tail, *data_shape])."""
        if self.auxiliary is None:
            raise ValueError("this M2 has no auxiliary variable a")
        flat = self._flat(x)
        flat = flat.expand(*z.shape[:-1], flat.shape[-1])
        return self.auxiliary.conditional(y.expand(*z.shape[:-1], self.num_classes), z, flat).log_prob(a)

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

    def _with_a(self, parts: list[torch.Tensor], a: torch.Tensor | None) -> list[torch.Tensor]:
        """parts + [a], a broadcast to the parts' batch (parts alone for M2)."""
        if self.auxiliary is not None:
            if a is None:
                raise ValueError(f"{self.name} needs the auxiliary variable a here")
            parts = [*parts, a.expand(*parts[0].shape[:-1], a.shape[-1]).to(parts[0].dtype)]
        return parts

    def posterior(self, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor | None = None) -> Distribution:
        """q(z | x, y) — q(z | a, y, x) with the auxiliary variable — for one-hot y [*batch, C]
        and x [*batch, *data_shape]. An x repeated for every class (`x.expand(C, ...)`) goes
        through the first layer once (`ConditionalDistribution.from_parts`)."""
        flat = x.reshape(*y.shape[:-1], math.prod(self.data_shape))
        return self.encoder.from_parts(self._with_a([flat, y.to(flat.dtype)], a))

    def _decoder_parents(self, y: torch.Tensor, z: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        """[z, y] (+ a for SDGM, E[a | y, z] when a is not given) with y broadcast to z's batch."""
        y = y.expand(*z.shape[:-1], self.num_classes).to(z.dtype)
        if self.auxiliary is None or not self.auxiliary.skip:
            return torch.cat([z, y], -1)
        if a is None:
            a = self.auxiliary.conditional(y, z).mean
        return torch.cat(self._with_a([z, y], a), -1)

    def likelihood(self, y: torch.Tensor, z: torch.Tensor, a: torch.Tensor | None = None) -> Distribution:
        """p(x | y, z) — p(x | a, y, z) for SDGM — for one-hot y [*batch, C] and z [*batch, d]
        (sample dims broadcast)."""
        return self.decoder(self._decoder_parents(y, z, a))

    # --- the general latent-variable contract, latents (y, z) or (y, z, a) -----------------------
    def guide_sample(self, x: torch.Tensor, sample_shape: tuple[int, ...] = (),
                     stop_guide_gradient: bool = False) -> tuple[LabelledLatents, torch.Tensor]:
        """(a ~ q(a | x),) y ~ q(y | (a,) x) (a draw, not reparameterised), z ~ q(z | x, y(, a))
        (reparameterised); log q is the sum of the guide's log-densities."""
        drawn = self.draw_auxiliary(x, sample_shape, stop_guide_gradient)
        a, log_q_a = (None, 0.0) if drawn is None else drawn
        q_y = self.classifier(x, a)
        label = q_y.sample(sample_shape if a is None else ())
        y = F.one_hot(label, self.num_classes).to(x.dtype)
        xs = x.expand(*sample_shape, *x.shape)
        q_z = self.posterior(xs, y, a)
        z = q_z.rsample()
        scorer = detach_parameters(q_z) if stop_guide_gradient else q_z
        log_q_y = (Categorical(logits=q_y.logits.detach(), validate_args=False)
                   if stop_guide_gradient else q_y).log_prob(label)
        latents = (y, z) if a is None else (y, z, a)
        return latents, log_q_a + log_q_y + scorer.log_prob(z)

    def log_prior(self, latents: LabelledLatents) -> torch.Tensor:
        """log p(y) + log p(z) (+ log p(a | y, z) for SDGM, whose a is generated before x)."""
        y, z = latents[0], latents[1]
        log_p = self.prior_y().log_prob(y.argmax(-1)) + self.prior_z().log_prob(z)
        if self.auxiliary is not None and self.auxiliary.skip:
            log_p = log_p + self.auxiliary.conditional(
                y.expand(*z.shape[:-1], self.num_classes), z).log_prob(latents[2])
        return log_p

    def log_likelihood(self, x: torch.Tensor, latents: LabelledLatents) -> torch.Tensor:
        """log p(x | y, z) (+ log p(a | x, y, z) for ADGM; SDGM's is log p(x | a, y, z))."""
        y, z = latents[0], latents[1]
        a = latents[2] if len(latents) > 2 else None
        log_p = self.likelihood(y, z, a).log_prob(x)
        if self.auxiliary is not None and not self.auxiliary.skip:
            if a is None:
                raise ValueError("ADGM's log-likelihood needs the latents (y, z, a)")
            log_p = log_p + self.log_auxiliary(x, y, z, a)
        return log_p

    def prior_sample(self, sample_shape: tuple[int, ...]) -> LabelledLatents:
        """(y, z) ~ p(y) p(z); SDGM adds a ~ p(a | y, z) (ADGM's a follows x, it is not drawn)."""
        y = F.one_hot(self.prior_y().sample(sample_shape), self.num_classes).float()
        z = self.prior_z().sample(sample_shape)
        if self.auxiliary is not None and self.auxiliary.skip:
            return y, z, self.auxiliary.conditional(y, z).sample()
        return y, z

    def decode_mean(self, latents: LabelledLatents) -> torch.Tensor:
        """E[x | y, z] (SDGM: E[x | a, y, z], a = E[a | y, z] when the latents hold none)."""
        y, z = latents[0], latents[1]
        return self.decoder.mean(self._decoder_parents(y, z, latents[2] if len(latents) > 2 else None))

    def _mean_a(self, x: torch.Tensor) -> torch.Tensor | None:
        """E[a | x] under q(a | x), or None for M2."""
        return None if self.auxiliary is None else self.auxiliary_posterior(x).mean

    def encode_mean(self, x: torch.Tensor) -> LabelledLatents:
        """The most probable class under q(y | x) and the mean of q(z | x, y) for it (at E[a | x])."""
        y = F.one_hot(self.classifier(x).probs.argmax(-1), self.num_classes).to(x.dtype)
        a = self._mean_a(x)
        z = self.posterior(x, y, a).mean
        return (y, z) if a is None else (y, z, a)

    def style(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """E[z | x, y] for integer labels y (at a = E[a | x]): the "style" of x once its class is
        given."""
        return self.posterior(x, self.one_hot(y).to(x.dtype), self._mean_a(x)).mean

    @torch.no_grad()
    def sample_class(self, labels: torch.Tensor) -> torch.Tensor:
        """E[x | y, z] for z ~ p(z), one image per integer label in `labels`."""
        z = self.prior_z().sample((labels.shape[0],))
        return self.decode_mean((self.one_hot(labels.to(z.device)), z))


@dataclass(frozen=True)
class M2Shape:
    """The networks of an M2: classifier hidden widths, encoder/decoder widths, latent size; with
    `auxiliary` "adgm" or "sdgm" an auxiliary variable of `auxiliary_dim` whose networks q(a | x)
    and p(a | ·) have the encoder's widths."""

    num_classes: int
    latent_dim: int = 50
    hidden: tuple[int, ...] = (500,)
    classifier_hidden: tuple[int, ...] = (500,)
    activation: str = "relu"
    auxiliary: str | None = None
    auxiliary_dim: int = 100

    def __post_init__(self) -> None:
        if self.auxiliary not in (None, ADGM, SDGM):
            raise ValueError(f"auxiliary must be None, {ADGM!r} or {SDGM!r}, got {self.auxiliary!r}")
        if self.auxiliary_dim < 1:
            raise ValueError(f"auxiliary_dim must be >= 1, got {self.auxiliary_dim}")


def build_m2(shape: M2Shape, data_shape: tuple[int, ...], likelihood: Family,
             in_scale: float = 1.0) -> M2:
    """An M2 (or with `shape.auxiliary` an ADGM / SDGM) for data of `data_shape` (an image
    [C, H, W] or a feature vector [D]).

    `in_scale` multiplies network inputs (1/255 for 8-bit data); the likelihood sees raw values.
    """
    c, d, act = shape.num_classes, shape.latent_dim, shape.activation
    dx = math.prod(data_shape)
    da = shape.auxiliary_dim if shape.auxiliary is not None else 0
    if da:
        classifier = ConditionalDistribution(
            _ScaledInput(MLP((dx + da,), shape.classifier_hidden, c, act), dx, in_scale),
            CategoricalFamily(c), (), (dx + da,))
    else:
        classifier = ConditionalDistribution(
            MLP(data_shape, shape.classifier_hidden, c, act, in_scale), CategoricalFamily(c), (),
            data_shape)
    # q(z | x, y (, a)): Normal with unbounded log-scale, as the VAE's guide
    encoder = ConditionalDistribution(
        _ScaledInput(MLP((dx + c + da,), shape.hidden, 2 * d, act), dx, in_scale),
        GaussianFamily(bound_log_scale=False), (d,), (dx + c + da,))
    skip = shape.auxiliary == SDGM
    decoder_in = d + c + (da if skip else 0)
    decoder = ConditionalDistribution(
        MLP((decoder_in,), tuple(reversed(shape.hidden)), likelihood.params_per_element * dx, act),
        likelihood, data_shape, (decoder_in,))
    auxiliary = _auxiliary(shape, dx, in_scale) if da else None
    return M2(classifier, encoder, decoder, c, auxiliary)


def _auxiliary(shape: M2Shape, dx: int, in_scale: float) -> AuxiliaryVariable:
    """q(a | x) (unbounded log-scale, as every guide) and p(a | x, y, z) or, SDGM, p(a | y, z)."""
    c, d, da, act = shape.num_classes, shape.latent_dim, shape.auxiliary_dim, shape.activation
    guide = ConditionalDistribution(MLP((dx,), shape.hidden, 2 * da, act, in_scale),
                                    GaussianFamily(bound_log_scale=False), (da,), (dx,))
    if shape.auxiliary == SDGM:
        network: nn.Module = MLP((c + d,), shape.hidden, 2 * da, act)
        parents = c + d
    else:
        network = _ScaledInput(MLP((dx + c + d,), shape.hidden, 2 * da, act), dx, in_scale)
        parents = dx + c + d
    prior = ConditionalDistribution(network, GaussianFamily(bound_log_scale=True), (da,), (parents,))
    return AuxiliaryVariable(guide, prior, skip=shape.auxiliary == SDGM)


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

    def forward_parts(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        """`forward` of cat(parts) with x the first part (see `MLP.forward_parts`)."""
        if parts[0].shape[-1] != self.x_features:
            raise ValueError(f"the first part must be x's {self.x_features} features, "
                             f"got {parts[0].shape[-1]}")
        x = unrepeated(parts[0])
        return self.network.forward_parts([x * self.scale if self.scale != 1.0 else x, *parts[1:]])
