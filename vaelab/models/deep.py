"""A deep top-down hierarchical VAE: latent groups on one top-down path that the prior and the
guide share (Kingma et al. 2016's ResNet VAE with bidirectional inference; NVAE, Vahdat & Kautz
2020; VDVAE, Child 2021).

Generative model, from a learned state s_0 down to the data, one group g = 1..G at a time:
    p(z_g | z_<g) = N(μ_g(s_{g−1}), σ_g(s_{g−1})),   s_g = s_{g−1} + cell_g(s_{g−1}, z_g),
    p(x | z) = Family(f(s_G))
Guide, the same path with a bottom-up feature h_g(x) for each group (the top group reads the
deepest feature):
    q(z_g | z_<g, x) = N(μ_g + Δμ_g, σ_g · exp(Δlog σ_g)),   (Δμ_g, Δlog σ_g) = post_g(s_{g−1}, h_g)
— NVAE's residual normal: the guide is written relative to the prior, so at initialisation
(Δ = 0) every group's KL is 0 and no group starts collapsed or exploding. Log-scales are
soft-bounded (`LOG_SCALE_BOUND`). The state may be a vector (the CPU preset, cells are MLPs) or a
feature map (a user's convolutional cells): every piece is a module handed in.

Latents are a tuple in the order of vaelab's other hierarchies: z[0] is the group next to the
data (the last sampled), z[-1] the top group. A guide draw carries its top-down pass with it, so
scoring log p(x, z) of the draws the guide just made costs no second pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence

from vaelab.distributions.detach import detach_parameters
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution

#: log σ of every group's prior and guide is squashed into (−bound, bound) by bound·tanh(·/bound)
LOG_SCALE_BOUND = 7.0


def soft_bound(log_scale: torch.Tensor, bound: float = LOG_SCALE_BOUND) -> torch.Tensor:
    """bound · tanh(log σ / bound): smooth, the identity near 0, never beyond ±bound."""
    return bound * torch.tanh(log_scale / bound)


def _apply(module: nn.Module, t: torch.Tensor, event_dims: int) -> torch.Tensor:
    """`module` on t [*lead, *event] with the leading dimensions flattened into one batch."""
    lead = t.shape[: t.dim() - event_dims]
    out = module(t.reshape(-1, *t.shape[t.dim() - event_dims:]))
    return out.reshape(*lead, *out.shape[1:])


def _normal(loc: torch.Tensor, log_scale: torch.Tensor, event_dims: int) -> Independent:
    return Independent(Normal(loc, log_scale.exp(), validate_args=False), event_dims, validate_args=False)


class TopDownGroup(nn.Module):
    """One latent group: its prior head, its guide head and the cell that folds z_g into the state.

    `prior_head(s)` gives [μ, log σ] stacked on the channel axis (2·C channels, C = the latent's
    first dimension), `posterior_head(cat(s, h))` gives [Δμ, Δlog σ] likewise, `cell(cat(s, z))`
    gives the state's residual update; `resize` (optional) maps the state before the group, e.g.
    an upsampling step between resolutions."""

    def __init__(self, prior_head: nn.Module, posterior_head: nn.Module, cell: nn.Module,
                 latent_shape: Sequence[int], resize: nn.Module | None = None) -> None:
        super().__init__()
        self.prior_head, self.posterior_head, self.cell = prior_head, posterior_head, cell
        self.resize = resize
        self.latent_shape = tuple(latent_shape)

    @property
    def event_dims(self) -> int:
        return len(self.latent_shape)

    def prior(self, state: torch.Tensor, state_dims: int, temperature: float = 1.0) -> Independent:
        """p(z_g | z_<g) at the state s_{g−1}; `temperature` scales σ (sampling only)."""
        # the heads' outputs in the state's precision: under bf16 autocast the matrix products are
        # bf16, but a posterior mean of prior mean + shift, divided by a small prior scale in the
        # KL, is not to be rounded to 3 significant digits
        params = _apply(self.prior_head, state, state_dims).to(state.dtype)
        loc, log_scale = params.chunk(2, dim=-self.event_dims)
        log_scale = soft_bound(log_scale)
        if temperature != 1.0:
            log_scale = log_scale + math.log(temperature)
        return _normal(loc, log_scale, self.event_dims)

    def posterior(self, state: torch.Tensor, feature: torch.Tensor, prior: Independent,
                  state_dims: int) -> Independent:
        """q(z_g | z_<g, x): the prior shifted and rescaled by what the feature h_g(x) says."""
        feature = feature.expand(*state.shape[: state.dim() - state_dims], *feature.shape[-state_dims:])
        both = torch.cat([state, feature], dim=-state_dims)
        params = _apply(self.posterior_head, both, state_dims).to(state.dtype)
        shift, log_ratio = params.chunk(2, dim=-self.event_dims)
        base = prior.base_dist
        return _normal(base.loc + shift, soft_bound(base.scale.log() + log_ratio), self.event_dims)

    def update(self, state: torch.Tensor, z: torch.Tensor, state_dims: int) -> torch.Tensor:
        """s_g = s_{g−1} + cell(s_{g−1}, z_g)."""
        lead = state.shape[: state.dim() - state_dims]
        both = torch.cat([state, z.expand(*lead, *z.shape[-self.event_dims:])], dim=-state_dims)
        return state + _apply(self.cell, both, state_dims)


@dataclass(frozen=True)
class TopDownPass:
    """What a pass down the path computed: each group's prior (top first), the last state, each
    group's guide when the guide drew the latents, and the latents."""

    priors: tuple[Independent, ...]
    state: torch.Tensor
    posteriors: tuple[Independent, ...] = ()
    #: each group's latent, top first
    latents: tuple[torch.Tensor, ...] = ()


#: pick(index, group, state, prior) -> (the group's latent, the guide that drew it or None)
Pick = Callable[[int, "TopDownGroup", torch.Tensor, Independent], tuple[torch.Tensor, Independent | None]]


class GroupLatents(tuple):
    """The latents of a deep VAE (z[0] next to the data, z[-1] the top group), carrying the
    top-down pass that produced them when the guide drew them."""

    path: TopDownPass | None = None
    #: log q(z | x) of a draw, kept by TopDownGuide.rsample
    log_q: torch.Tensor | None = None

    @classmethod
    def of(cls, top_first: Sequence[torch.Tensor], path: TopDownPass | None) -> GroupLatents:
        latents = cls(reversed(top_first))
        latents.path = path
        return latents


@dataclass(frozen=True)
class LocalTopDownGuide:
    """A deep VAE's guide over its per-example parameters: `family(eta)` is q(z | eta)."""

    eta: torch.Tensor
    family: Callable[[torch.Tensor], TopDownGuide]


class TopDownGuide:
    """q(z | h) of a deep VAE for given bottom-up features h (top first): draws with `rsample`,
    scores with `log_prob` (a draw of its own is scored from the pass that made it)."""

    def __init__(self, model: DeepVAE, features: Sequence[torch.Tensor]) -> None:
        self.model, self.features = model, tuple(features)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> GroupLatents:
        lead = (*sample_shape, self.features[0].shape[0])
        z, log_q = self.model._guide(self.features, lead)
        z.log_q = log_q.sum(-1)
        return z

    def log_prob(self, z: Sequence[torch.Tensor]) -> torch.Tensor:
        own = getattr(z, "log_q", None)
        return own if own is not None else self.model._guide_log_prob(self.features, z)


class DeepVAE(LatentVariableModel):
    """G latent groups on a shared top-down path; see the module docstring for the densities.

    `bottom_up[i]` maps the previous feature (x for i = 0) to the next; group g (top first) reads
    feature G − 1 − g, so the top group sees the deepest one. `initial_state` is s_0 (one example's
    shape); `decoder` is p(x | s_G)."""

    #: the guide's heads read the generative path's state: DReG's assumption does not hold
    guide_shares_generative_parameters = True

    def __init__(self, bottom_up: Sequence[nn.Module], groups: Sequence[TopDownGroup],
                 initial_state: torch.Tensor, decoder: ConditionalDistribution) -> None:
        super().__init__()
        if len(groups) < 1:
            raise ValueError("a deep VAE needs at least one latent group")
        if len(bottom_up) != len(groups):
            raise ValueError(f"need one bottom-up block per latent group: {len(bottom_up)} blocks, "
                             f"{len(groups)} groups")
        self.bottom_up = nn.ModuleList(bottom_up)
        self.groups = nn.ModuleList(groups)
        self.initial_state = nn.Parameter(initial_state.detach().clone())
        self.state_dims = initial_state.dim()
        self.decoder = decoder
        self.data_shape = decoder.event_shape
        self.data_kind = decoder.family.data_kind
        #: each group's latent shape, in the order of the latents tuple (next to the data first)
        self.latent_shapes = tuple(g.latent_shape for g in reversed(groups))

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """h_g(x) for each group, top first."""
        features, h = [], x
        for block in self.bottom_up:
            h = block(h)
            features.append(h)
        return features[::-1]

    def _start(self, lead: tuple[int, ...]) -> torch.Tensor:
        return self.initial_state.expand(*lead, *self.initial_state.shape)

    def _walk(self, lead: tuple[int, ...], pick: Pick) -> TopDownPass:
        """Down the path from s_0, group by group (top first): `pick(index, group, state, prior)`
        gives the group's latent and, when a guide drew it, that guide; every pass of the model
        (scoring, the guide, sampling, means) is this walk with its own pick."""
        state, priors, posteriors, latents = self._start(lead), [], [], []
        for index, group in enumerate(self.groups):
            state = state if group.resize is None else _apply(group.resize, state, self.state_dims)
            prior = group.prior(state, self.state_dims)
            z, q = pick(index, group, state, prior)
            priors.append(prior)
            latents.append(z)
            if q is not None:
                posteriors.append(q)
            state = group.update(state, z, self.state_dims)
        return TopDownPass(tuple(priors), state, tuple(posteriors), tuple(latents))

    def _guide_pick(self, features: Sequence[torch.Tensor], given: Sequence[torch.Tensor] | None = None,
                    mean: bool = False) -> Pick:
        """Each group's guide q(z_g | z_<g, h_g) at the bottom-up features (top first), and its
        draw — or the latents `given` (top first), or with `mean` the guide's mean."""
        def pick(index: int, group: TopDownGroup, state: torch.Tensor,
                 prior: Independent) -> tuple[torch.Tensor, Independent | None]:
            q = group.posterior(state, features[index], prior, self.state_dims)
            z = given[index] if given is not None else q.mean if mean else q.rsample()
            return z, q
        return pick

    def _lead(self, z: Sequence[torch.Tensor]) -> tuple[int, ...]:
        """The sample and batch dimensions of latents (z[0] next to the data)."""
        top = z[-1]
        return tuple(top.shape[: top.dim() - self.groups[0].event_dims])

    def _pass(self, z: GroupLatents | Sequence[torch.Tensor]) -> TopDownPass:
        path = getattr(z, "path", None)
        if path is not None:
            return path
        top_first = list(reversed(z))
        return self._walk(self._lead(z), lambda index, group, state, prior: (top_first[index], None))

    def guide_sample_groups(self, x: torch.Tensor, sample_shape: tuple[int, ...] = (),
                            stop_guide_gradient: bool = False) -> tuple[GroupLatents, torch.Tensor]:
        return self._guide(self._features(x), (*sample_shape, x.shape[0]), stop_guide_gradient)

    def _guide(self, features: Sequence[torch.Tensor], lead: tuple[int, ...],
               stop_guide_gradient: bool = False) -> tuple[GroupLatents, torch.Tensor]:
        """Draws down the path from bottom-up features (top first) and their log q per group."""
        path = self._walk(lead, self._guide_pick(features))
        log_q = [(detach_parameters(q) if stop_guide_gradient else q).log_prob(z)
                 for q, z in zip(path.posteriors, path.latents, strict=True)]
        return GroupLatents.of(path.latents, path), torch.stack(log_q[::-1], -1)

    def _guide_log_prob(self, features: Sequence[torch.Tensor], z: Sequence[torch.Tensor]) -> torch.Tensor:
        """log q(z | features) of given latents (z[0] next to the data), summed over groups."""
        path = self._walk(self._lead(z), self._guide_pick(features, given=list(reversed(z))))
        log_q = [q.log_prob(zg) for q, zg in zip(path.posteriors, path.latents, strict=True)]
        return torch.stack(log_q).sum(0)

    def local_guide(self, x: torch.Tensor) -> LocalTopDownGuide:
        """The guide as a family over per-example parameters (vaelab.objectives.local_guide): the
        bottom-up features h_g(x), each flattened and laid end to end [B, Σ |h_g|] (they may sit at
        different resolutions); the top-down path, shared with the generative model, makes them a
        guide. q* (the inference gaps) optimises them per image."""
        features = self._features(x)
        shapes = [f.shape[1:] for f in features]
        sizes = [math.prod(shape) for shape in shapes]

        def family(eta: torch.Tensor) -> TopDownGuide:
            parts = zip(eta.split(sizes, -1), shapes, strict=True)
            return TopDownGuide(self, [part.reshape(*part.shape[:-1], *shape) for part, shape in parts])

        return LocalTopDownGuide(torch.cat([f.flatten(1) for f in features], 1), family)

    def analytic_kl_groups(self, z: Sequence[torch.Tensor]) -> torch.Tensor | None:
        """KL(q(z_g | z_<g, x) ‖ p(z_g | z_<g)) of each group, in closed form at the guide's draws
        of the groups above (NVAE's KL): the same expectation as log q − log p, less noise."""
        path = getattr(z, "path", None)
        if path is None or not path.posteriors:
            return None
        kls = [kl_divergence(q, p) for q, p in zip(path.posteriors, path.priors, strict=True)]
        return torch.stack(kls[::-1], -1)

    def guide_sample(self, x: torch.Tensor, sample_shape: tuple[int, ...] = (),
                     stop_guide_gradient: bool = False) -> tuple[GroupLatents, torch.Tensor]:
        z, log_q = self.guide_sample_groups(x, sample_shape, stop_guide_gradient)
        return z, log_q.sum(-1)

    def log_prior_groups(self, z: Sequence[torch.Tensor]) -> torch.Tensor:
        path = self._pass(z)
        return torch.stack([p.log_prob(zg) for p, zg in zip(path.priors, reversed(z), strict=True)][::-1], -1)

    def log_prior(self, z: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.log_prior_groups(z).sum(-1)

    def log_likelihood(self, x: torch.Tensor, z: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.decoder(self._pass(z).state).log_prob(x)

    def log_joint(self, x: torch.Tensor, z: Sequence[torch.Tensor]) -> torch.Tensor:
        path = self._pass(z)
        log_p = sum(p.log_prob(zg) for p, zg in zip(path.priors, reversed(z), strict=True))
        return self.decoder(path.state).log_prob(x) + log_p

    def prior_sample(self, sample_shape: tuple[int, ...], temperature: float = 1.0) -> GroupLatents:
        """z ~ p(z), group by group from the top; `temperature` < 1 narrows every group's prior
        (the "samples at temperature t" of NVAE and VDVAE; 0: each group at its prior mean)."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")

        def pick(index: int, group: TopDownGroup, state: torch.Tensor,
                 prior: Independent) -> tuple[torch.Tensor, None]:
            if temperature == 0:
                return prior.mean, None
            return group.prior(state, self.state_dims, temperature).sample(), None

        with torch.no_grad():
            return GroupLatents.of(self._walk(tuple(sample_shape), pick).latents, None)

    def decode_mean(self, z: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.decoder.mean(self._pass(z).state)

    def sample_observations(self, z: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.decoder(self._pass(z).state).sample()

    def encode_mean(self, x: torch.Tensor) -> GroupLatents:
        """Each group's guide mean, the groups below following the means above."""
        path = self._walk((x.shape[0],), self._guide_pick(self._features(x), mean=True))
        return GroupLatents.of(path.latents, None)

    @property
    def top_latent_dim(self) -> int:
        """Size of the top group (the explorer's sliders move it)."""
        return math.prod(self.groups[0].latent_shape)

    @torch.no_grad()
    def decode_from_top(self, z_top: torch.Tensor) -> torch.Tensor:
        """E[x | z_G, the groups below at their prior means]: what the top group alone says."""
        def pick(index: int, group: TopDownGroup, state: torch.Tensor,
                 prior: Independent) -> tuple[torch.Tensor, None]:
            return (z_top.reshape(-1, *group.latent_shape) if index == 0 else prior.mean), None

        return self.decoder.mean(self._walk((z_top.shape[0],), pick).state)

    @torch.no_grad()
    def reconstruct_from_depth(self, x: torch.Tensor, kept: int) -> torch.Tensor:
        """E[x | z] with the top `kept` groups at the guide's means for x and the groups below at
        their prior means: what the hierarchy keeps of x down to that depth (kept = G: the
        reconstruction; kept = 0: the prior's mean image)."""
        if not 0 <= kept <= len(self.groups):
            raise ValueError(f"kept must be in [0, {len(self.groups)}] groups, got {kept}")
        guide_mean = self._guide_pick(self._features(x), mean=True)

        def pick(index: int, group: TopDownGroup, state: torch.Tensor,
                 prior: Independent) -> tuple[torch.Tensor, Independent | None]:
            return guide_mean(index, group, state, prior) if index < kept else (prior.mean, None)

        return self.decoder.mean(self._walk((x.shape[0],), pick).state)

    def top_guide(self, x: torch.Tensor) -> Independent:
        """q(z_G | x) of the top group (exactly the guide's top factor)."""
        state = self._start((x.shape[0],))
        top = self.groups[0]
        state = state if top.resize is None else _apply(top.resize, state, self.state_dims)
        return top.posterior(state, self._features(x)[0], top.prior(state, self.state_dims), self.state_dims)


__all__ = ["LOG_SCALE_BOUND", "DeepVAE", "GroupLatents", "TopDownGroup", "TopDownPass", "soft_bound"]
