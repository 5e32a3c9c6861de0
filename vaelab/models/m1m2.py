"""M1+M2, the stacked model of Kingma et al. (2014): an M2 over the latent features of a VAE.

M1 is a VAE trained on all images; its guide's means E[z₁ | x] are the features that M2
models with a Gaussian likelihood p(z₁ | y, z₂) and classifies with q(y | z₁). M1 stays frozen
while M2 trains. With `sample_features` on, training draws z₁ ~ q(z₁ | x) afresh on each step
(on M1's active dimensions) instead of taking the mean, as Kingma et al.'s own code does: a free
augmentation of the 100 labelled examples; evaluation always uses the means.
As a latent-variable model, its bound is M2's bound on the features (a bound on
log p(z₁), not on log p(x)); pictures go through M1's decoder.
"""

from __future__ import annotations

import torch
from torch.distributions import Categorical

from vaelab.models.base import LatentVariableModel, SingleLatentModel
from vaelab.models.m2 import M2, LabelledLatents


class StackedM1M2(LatentVariableModel):
    """A frozen M1 (`SingleLatentModel`) whose posterior means feed an M2 (`m2`)."""

    def __init__(self, m1: SingleLatentModel, m2: M2) -> None:
        super().__init__()
        if m2.data_shape != (m1.latent_dim,):
            raise ValueError(f"M2 models features of shape {m2.data_shape} but M1 has "
                             f"{m1.latent_dim} latent dimensions")
        self.m1 = m1
        self.m2 = m2
        self.m1.requires_grad_(False)
        self.num_classes = m2.num_classes
        self.latent_dim = m2.latent_dim
        self.data_shape = m1.data_shape
        self.data_kind = m1.data_kind
        self.sample_features = False
        #: M1's dimensions that vary with x (set by `mark_active`); the rest are never sampled
        self.register_buffer("active", torch.ones(m1.latent_dim, dtype=torch.bool), persistent=False)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What M2 sees of an image: E_q[z₁ | x] from M1, or in training with `sample_features`
        a draw from q(z₁ | x) on the active dimensions."""
        posterior = self.m1.posterior(x)
        if not (self.training and self.sample_features):
            return posterior.mean
        noise = posterior.stddev * torch.randn_like(posterior.mean)
        return posterior.mean + noise * self.active

    @torch.no_grad()
    def mark_active(self, x: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
        """Mark the dimensions whose posterior mean varies across the images `x` (standard
        deviation above `threshold`, Kingma et al.'s rule); an inactive dimension's draw would be
        pure prior noise. Returns the mask."""
        self.active = self.m1.posterior(x).mean.std(0) > threshold
        return self.active

    def classifier(self, x: torch.Tensor) -> Categorical:
        """q(y | z₁ = features(x))."""
        return self.m2.classifier(self.features(x))

    def guide_sample(self, x: torch.Tensor, sample_shape: tuple[int, ...] = (),
                     stop_guide_gradient: bool = False) -> tuple[LabelledLatents, torch.Tensor]:
        return self.m2.guide_sample(self.features(x), sample_shape, stop_guide_gradient)

    def log_prior(self, latents: LabelledLatents) -> torch.Tensor:
        return self.m2.log_prior(latents)

    def log_likelihood(self, x: torch.Tensor, latents: LabelledLatents) -> torch.Tensor:
        """log p(z₁ = features(x) | y, z₂)."""
        return self.m2.log_likelihood(self.features(x), latents)

    def prior_sample(self, sample_shape: tuple[int, ...]) -> LabelledLatents:
        return self.m2.prior_sample(sample_shape)

    def decode_mean(self, latents: LabelledLatents) -> torch.Tensor:
        """E[x | z₁] at z₁ = E[z₁ | y, z₂]: M2's mean features drawn by M1's decoder."""
        return self.m1.decode_mean(self.m2.decode_mean(latents))

    def encode_mean(self, x: torch.Tensor) -> LabelledLatents:
        return self.m2.encode_mean(self.features(x))

    def style(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """E[z₂ | z₁ = features(x), y]."""
        return self.m2.style(self.features(x), y)

    @torch.no_grad()
    def sample_class(self, labels: torch.Tensor) -> torch.Tensor:
        """Images of the given classes: M2's mean features for z₂ ~ p(z₂), decoded by M1."""
        return self.m1.decode_mean(self.m2.sample_class(labels))
