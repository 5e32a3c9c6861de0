"""The variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014).

p(z) = Normal(0, σ²I), p(x | z) = Family(f_dec(z)), q(z | x) = Normal(μ(x), diag s(x)²).
Trained with the ELBO it is a VAE; trained with the IWAE bound it is an IWAE — same model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.models.base import SingleLatentModel
from vaelab.models.conditional import ConditionalDistribution


class VAE(SingleLatentModel):
    """A prior, an encoder q(z | x) and a decoder p(x | z), wired z -> x.

    The prior module is called with the encoder so that a VampPrior can share its weights;
    fixed and mixture priors ignore it.
    """

    def __init__(
        self,
        prior: nn.Module,
        encoder: ConditionalDistribution,
        decoder: ConditionalDistribution,
    ) -> None:
        super().__init__()
        if encoder.event_shape != decoder.parent_shape:
            raise ValueError(f"encoder emits {encoder.event_shape} but decoder reads "
                             f"{decoder.parent_shape}")
        if encoder.parent_shape != decoder.event_shape:
            raise ValueError(
                f"encoder reads {encoder.parent_shape} but decoder emits {decoder.event_shape}"
            )
        self.prior_module = prior
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = encoder.event_shape[0]
        self.data_shape = decoder.event_shape
        self.data_kind = decoder.family.data_kind

    def prior(self) -> Distribution:
        return self.prior_module(self.encoder)

    def posterior(self, x: torch.Tensor) -> Distribution:
        return self.encoder(x)

    def likelihood(self, z: torch.Tensor) -> Distribution:
        return self.decoder(z)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.mean(z)
