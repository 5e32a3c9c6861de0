"""The variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014).

p(z) = Normal(0, σ²I), p(x | z) = Family(f_dec(z)), q(z | x) = Normal(μ(x), diag s(x)²) — the
defaults; the prior, the likelihood and the guide family q(z | x) (a full-covariance Gaussian or a
normalizing flow too) are registered components.
Trained with the ELBO it is a VAE; trained with the IWAE bound it is an IWAE — same model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.distributions.families import Family
from vaelab.distributions.guide_families import GuideFamily
from vaelab.models.base import SingleLatentModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.from_networks import wrap_networks


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

    @classmethod
    def from_networks(
        cls,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: str | Family = "bernoulli",
        *,
        latent_dim: int,
        data_shape: Sequence[int],
        prior: nn.Module | str | None = None,
        fixed_scale: float = 0.1,
        prior_scale: float = 1.0,
        prior_components: int | None = None,
        posterior: str | GuideFamily = "diagonal",
    ) -> VAE:
        """A VAE around your own networks: `encoder` maps x [B, *data_shape] to [B, 2·latent_dim]
        (mean, then log standard deviation of q(z | x)); `decoder` maps z [B, latent_dim] to the
        family's parameters, [B, params_per_element · prod(data_shape)] in any layout that
        reshapes to [B, params_per_element, *data_shape]. `likelihood` is a family name
        ("bernoulli", "gaussian", "gaussian-fixed" with `fixed_scale`, "logistic8") or a Family;
        `prior` is None or "normal" (Normal(0, `prior_scale`² I)), "mog", "vamp" (with
        `prior_components`, default 10 / 500), another name registered in vaelab.components.priors,
        or a module returning p(z). `posterior` (the guide family: "diagonal", "full", "planar:K",
        "iaf:K", "spline:K", a name registered in vaelab.components.guide_families, or a
        GuideFamily) reads the encoder's output as q(z | x) and says how many numbers it emits
        (`num_params(latent_dim)`, e.g. 2·latent_dim + latent_dim for "iaf:K": mean, log-scale
        and a context h). One dry run checks the
        shapes; a mismatch raises a ValueError naming the module (vaelab.models.from_networks)."""
        return cls(*wrap_networks(encoder, decoder, likelihood, latent_dim, data_shape, prior,
                                  fixed_scale, prior_scale, prior_components, posterior))

    def prior(self) -> Distribution:
        return self.prior_module(self.encoder)

    def posterior(self, x: torch.Tensor) -> Distribution:
        return self.encoder(x)

    def likelihood(self, z: torch.Tensor) -> Distribution:
        return self.decoder(z)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.mean(z)
