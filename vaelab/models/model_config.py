"""A frame model's typed config: networks, latent size(s), likelihood family and prior.

Kept apart from the builders (vaelab.models.config) so configs and the command line can read and
validate it without loading torch. A named component is checked against its registry
(vaelab.components), so one registered from Python after start-up is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from vaelab import components
from vaelab.choices import ACTIVATION_NAMES
from vaelab.settings import Help, NonEmpty, OneOf, Range, Registered, check, require


@dataclass(frozen=True)
class ModelConfig:
    """A VAE's shape: networks, latent size, likelihood family, prior (and its scale σ) and the
    guide family of q(z | x) (`posterior`)."""

    architecture: Annotated[str, Registered(components.architectures), Help(
        "encoder/decoder networks: mlp (fully connected), conv (convolutional), deep (a top-down "
        "hierarchy of --groups latent groups, cells --hidden wide) or deep-conv (the same on "
        "feature maps at several resolutions: the NVAE/VDVAE shape, for GPUs)")] = "mlp"
    latent_dim: Annotated[int, Range(1, 4096), Help("size of the latent vector z")] = 32
    hidden: Annotated[tuple[int, ...], Range(1), Help("hidden widths, e.g. 512,512")] = (512, 512)
    conv_channels: Annotated[tuple[int, ...], NonEmpty("at least one channel count"), Range(1), Help(
        "channels of each stride-2 convolution of --architecture conv, e.g. 32,64; deep-conv: one "
        "halving of the image side each")] = (32, 64)
    activation: Annotated[str, OneOf(ACTIVATION_NAMES), Help(
        "nonlinearity of the networks: relu, tanh, elu, gelu or silu")] = "relu"
    likelihood: Annotated[str, Registered(components.likelihoods, components.likelihood_problem), Help(
        "p(x | z): bernoulli (binary pixels), gaussian (learned variance), gaussian-fixed, "
        "logistic8 (discretized logistic over 8-bit values), logistic-mixture[:K] (a mixture of K "
        "discretized logistics, PixelCNN++'s, K = 10 by default)", metavar="LIKELIHOOD")] = "bernoulli"
    fixed_scale: Annotated[float, Range(0, open_low=True)] = 0.1
    prior_scale: Annotated[float, Range(0, open_low=True), Help("σ of the prior Normal(0, σ²I)")] = 1.0
    prior: Annotated[str, Registered(components.priors), Help(
        "normal = Normal(0, σ²I); mog = learned Gaussian mixture; vamp = VampPrior")] = "normal"
    prior_components: Annotated[int | None, Range(1), Help(
        "mixture components / VampPrior pseudo-inputs (default 10 / 500)")] = None
    upper_latents: Annotated[tuple[int, ...], Range(1, 4096), Help(
        "sizes of further stochastic layers above z_1, e.g. 50 for Burda's 2-layer model (with "
        "--latent-dim 100)")] = ()
    upper_hidden: Annotated[tuple[int, ...], Range(1), Help(
        "hidden widths between stochastic layers, e.g. 100,100")] = (100, 100)
    inference: Annotated[str, Registered(components.inference), Help(
        "guide of a hierarchical model: bottom-up (Burda), top-down (the ladder VAE's precision "
        "weighting; collapses on MNIST without more help) or residual (top-down, NVAE's residual "
        "normal: learns where top-down collapses)")] = "bottom-up"
    groups: Annotated[int | None, Range(1, 64), Help(
        "latent groups of --architecture deep, each of --latent-dim (default 4)")] = None
    normalization: Annotated[str, OneOf(("none", "batch")), Help(
        "--architecture deep: batch normalization after each hidden layer of the bottom-up path, "
        "the cells and the decoder (the ladder VAE's), or none")] = "none"
    dropout: Annotated[float, Range(0, 1, open_high=True), Help(
        "--architecture deep: dropout rate in each top-down cell and the decoder's hidden layer, "
        "a regulariser for a hierarchy that overfits (0 = none)")] = 0.0
    posterior: Annotated[str, Registered(components.guide_families, components.guide_family_problem),
                         Help("the guide family of q(z | x): diagonal, full (full-covariance Gaussian), "
                              "planar:K, iaf:K or spline:K (normalizing flows of K steps)",
                              metavar="FAMILY")] = "diagonal"

    #: config keys read under their new names (the guide family was `guide_family` before 0.1)
    RENAMED: ClassVar[dict[str, str]] = {"guide_family": "posterior"}

    def __post_init__(self) -> None:
        check(self, "model")
        require(not (self.upper_latents and self.architecture != "mlp"), "model", "upper_latents",
                "stacked stochastic layers are built with architecture = 'mlp'")
        require(not (self.upper_latents and self.posterior != "diagonal"), "model", "posterior",
                "stacked stochastic layers have diagonal Gaussian conditionals: posterior = 'diagonal'")
        deep = self.architecture in ("deep", "deep-conv")
        require(deep or self.groups is None, "model", "groups",
                "latent groups belong to architecture = 'deep' (a top-down hierarchy)")
        require(not (deep and self.upper_latents), "model", "upper_latents",
                "architecture = 'deep' stacks its own latent groups: use groups, not upper_latents")
        require(self.architecture == "deep" or self.normalization == "none", "model", "normalization",
                "normalization belongs to architecture = 'deep' (its hidden layers)")
        require(self.architecture == "deep" or self.dropout == 0, "model", "dropout",
                "dropout belongs to architecture = 'deep' (its cells and decoder)")
        require(not (deep and self.posterior != "diagonal"), "model", "posterior",
                "architecture = 'deep' has its own guide (each group's Gaussian relative to its "
                "prior): posterior = 'diagonal'")

    @property
    def hierarchical(self) -> bool:
        return bool(self.upper_latents)
