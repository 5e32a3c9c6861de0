"""A deep state-space model (a sequential VAE) for image sequences with observed actions.

Generative model, for frames x_{1:T} and actions u_{1:T}:

    z_1 ~ p(z_1),   z_t ~ p(z_t | z_{t−1}, u_t)   (Transition),   x_t ~ p(x_t | z_t)   (Emitter)

Guide: q(z_{1:T} | x, u) = Π_t q(z_t | z_{t−1}, h_t) with h_t a recurrent summary of the frames
(forward for filtering, backward for smoothing) and a Combiner (see ssm_guide). Krishnan et al.
2017 (DMM) for the structure, Karl et al. 2017 (DVBF) for physics-structured transitions.

The model offers narrow step APIs — `initial_prior`, `transition`, `emit`, `summarize`,
`posterior`, and `guide_step` joining the prior and the guide of one step — and no loop: the
objectives (vaelab.objectives.sequential, smc) and the pipelines (ssm_rollout) write their loops
over time in the open.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab import components
from vaelab.choices import GUIDES as GUIDES
from vaelab.choices import TRANSITIONS as TRANSITIONS
from vaelab.data.sequences import SequenceBatch
from vaelab.distributions.families import make_family
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.ssm_config import READOUTS as READOUTS
from vaelab.models.ssm_config import SSM_ARCHITECTURES as SSM_ARCHITECTURES
from vaelab.models.ssm_config import SSM_LIKELIHOODS as SSM_LIKELIHOODS
from vaelab.models.ssm_config import SSMConfig as SSMConfig
from vaelab.models.ssm_guide import FrameEncoder, Summarizer
from vaelab.models.transitions import InitialState, PendulumTransition
from vaelab.nn.mlp import MLP


class Emitter(nn.Module):
    """p(x_t | z_t) = Family(f_DNN(r(z_t))), with r the readout: the angle on the unit circle
    (z_1, z_2)/‖(z_1, z_2)‖ ("circle": the picture depends on the angle alone) or z itself."""

    def __init__(self, decoder: ConditionalDistribution, readout: str) -> None:
        super().__init__()
        self.decoder = decoder
        self.readout = readout

    def features(self, z: torch.Tensor) -> torch.Tensor:
        if self.readout == "circle":
            return z[..., :2] / z[..., :2].norm(dim=-1, keepdim=True).clamp_min(1e-3)
        return z

    def forward(self, z: torch.Tensor) -> Distribution:
        return self.decoder(self.features(z))

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.mean(self.features(z))


class StateSpaceModel(nn.Module):
    """p(x_{1:T}, z_{1:T} | u) = p(z_1) Π_{t>1} p(z_t | z_{t−1}, u_t) Π_t p(x_t | z_t) and its guide.

    Shapes: z [*, d]; u [*, a]; frames [*, C, H, W]; h [B, T, H]. Every method accepts extra
    leading sample dimensions on z (k importance samples [k, B, d]).
    """

    def __init__(
        self,
        initial: InitialState,
        dynamics: nn.Module,
        emitter: Emitter,
        encoder: FrameEncoder,
        summarizer: Summarizer,
        combiner: nn.Module,
        data_kind: str,
        driven: bool = True,
    ) -> None:
        super().__init__()
        self.driven = driven
        self.initial = initial
        self.dynamics = dynamics
        self.emitter = emitter
        self.encoder = encoder
        self.summarizer = summarizer
        self.combiner = combiner
        self.latent_dim = int(initial.loc.shape[0])
        self.frame_shape = emitter.decoder.event_shape
        self.data_kind = data_kind

    def initial_prior(self, batch_shape: tuple[int, ...]) -> Distribution:
        """p(z_1), batch shape `batch_shape`, event [d]."""
        return self.initial(batch_shape)

    def transition(self, z_prev: torch.Tensor, u: torch.Tensor) -> Distribution:
        """p(z_t | z_{t−1}, u_t); for a model that is not `driven` (the hypothesis "the input does
        not act on the state") p(z_t | z_{t−1}), whatever u is."""
        return self.dynamics(z_prev, u if self.driven else torch.zeros_like(u))

    def transition_mean(self, z_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """E[z_t | z_{t−1}, u_t], the noiseless step of open-loop prediction."""
        return self.dynamics.mean(z_prev, u if self.driven else torch.zeros_like(u))

    def emit(self, z: torch.Tensor) -> Distribution:
        """p(x_t | z_t), event shape = frame shape."""
        return self.emitter(z)

    def emit_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x_t | z_t]: the picture to show."""
        return self.emitter.mean(z)

    def summarize(self, batch: SequenceBatch) -> torch.Tensor:
        """h [B, T, H]: what the guide knows of the frames at each step."""
        return self.summarizer(self.encoder(batch.frames), batch.actions, batch.mask)

    def posterior(self, z_prev: torch.Tensor | None, h_t: torch.Tensor, prior: Distribution,
                  observed: torch.Tensor) -> Distribution:
        """q(z_t | z_{t−1}, h_t); `prior` is p(z_t | z_{t−1}, u_t) (or p(z_1)), `observed` [*] is
        1 where frame t was seen."""
        return self.combiner(z_prev, h_t, prior, observed)

    def physical_constants(self) -> dict[str, float] | None:
        """The learned (g/L, b, input gain) of a physics transition; None for other rules."""
        if isinstance(self.dynamics, PendulumTransition):
            return self.dynamics.constants()
        return None


def guide_step(model: StateSpaceModel, z_prev: torch.Tensor | None, h_t: torch.Tensor, u_t: torch.Tensor,
               observed_t: torch.Tensor) -> tuple[Distribution, Distribution]:
    """One step of every loop over time: the prior p(z_t | z_{t−1}, u_t) — p(z_1) when `z_prev` is
    None — and the guide q(z_t | z_{t−1}, h_t) built on it. h_t [*, H], u_t [*, a] and
    observed_t [*] are already shaped like the draws (e.g. [k, B, ·] for k samples)."""
    prior = model.initial_prior(tuple(observed_t.shape)) if z_prev is None else model.transition(z_prev, u_t)
    return prior, model.posterior(z_prev, h_t, prior, observed_t)


def build_ssm(config: SSMConfig, frame_shape: tuple[int, int, int], dt: float,
              action_dim: int = 1) -> StateSpaceModel:
    """A freshly initialised state-space model for frames [C, H, W] sampled every `dt` seconds
    with `action_dim` actions per step (seed the RNG first)."""
    if not 0 < dt <= 1:
        raise ValueError(f"dt must be in (0, 1] seconds, got {dt}")
    family = make_family(config.likelihood, config.fixed_scale)
    data_kind = family.data_kind
    in_scale = 1.0 / 255.0 if data_kind == "byte" else 1.0
    d = config.latent_dim
    act = config.activation
    readout = config.resolved_readout()

    transition = components.transitions.get(config.transition)
    dynamics: nn.Module = transition.from_config(config, dt, action_dim)
    initial = InitialState(d, learnable=transition.learned_initial_state)

    emit_in = 2 if readout == "circle" else d
    architecture = components.ssm_architectures.get(config.architecture)
    dec_net = architecture.decoder(config, emit_in, family.params_per_element, frame_shape)
    emitter = Emitter(ConditionalDistribution(dec_net, family, frame_shape, (emit_in,)), readout)

    guide = components.ssm_guides.get(config.resolved_guide())
    skip = 0
    if guide.frame_wise:  # each frame straight to q(z_t | x_t) = Normal(μ, diag σ²)
        enc_net: nn.Module = MLP(frame_shape, config.encoder_hidden, 2 * d, act, in_scale)
        enc_out = 2 * d
    else:
        enc_net, enc_out, skip = architecture.encoder(config, frame_shape, in_scale)
    encoder = FrameEncoder(enc_net, frame_shape, enc_out)

    lookback = config.velocity_difference == "second-order"
    summarizer = Summarizer(enc_out, action_dim, config.rnn_hidden, guide.direction, skip, lookback=lookback)
    combiner: nn.Module = components.combiners.get(config.combiner).from_config(config, summarizer, dt,
                                                                                 readout, skip)
    return StateSpaceModel(initial, dynamics, emitter, encoder, summarizer, combiner, data_kind,
                           driven=config.driven)


__all__ = [
    "GUIDES",
    "SSM_LIKELIHOODS",
    "TRANSITIONS",
    "Emitter",
    "SSMConfig",
    "StateSpaceModel",
    "build_ssm",
    "guide_step",
]
