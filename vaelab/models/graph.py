"""A model declared as a directed graph: p(x_1, ..., x_M) = Π_j p(x_j | Pa(x_j)).

Each node is a random variable with its parents and its conditional p(x_j | Pa(x_j)) =
Family(η), η = f_DNN(Pa(x_j)); each latent node also carries its guide factor
q(z_j | Pa_q(z_j)), so the guide q(z | x) = Π_j q(z_j | Pa_q(z_j)) is a graph too:

    model = GraphModel(
        Latent("z2", prior=StandardNormalPrior(8), guide=q_z2, guide_parents=("z1",)),
        Latent("z1", parents=("z2",), conditional=p_z1, guide=q_z1, guide_parents=("x",)),
        Observed("x", parents=("z1",), conditional=p_x),
    )

From the declaration follow the topological order (ancestral sampling), log p(x, z) as the sum
of the factors, reparameterised guide samples in guide order with log q, and the
`LatentVariableModel` contract, so every objective (ELBO, IWAE, importance sampling, prior
Monte Carlo, AIS) applies unchanged. Declarations are checked at construction: unknown parents,
cycles, missing guides and networks whose outputs do not fit their family raise a one-line
ValueError naming the node and the shapes.

Exactly one observed node, the data x, and it must be a leaf of the generative graph (latents
do not depend on x generatively, so log p(z) and log p(x | z) stay separate terms).

Latents travel as a tuple in the order the `Latent` nodes were declared (what AIS flattens and
IWAE's DReG hooks iterate over); the methods also accept a dict keyed by node name, and
`named(z)` turns a tuple into that dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.distributions.detach import detach_parameters
from vaelab.distributions.guide_families import check_continuous_latent
from vaelab.models.base import LatentVariableModel
from vaelab.models.conditional import ConditionalDistribution
from vaelab.models.graph_nodes import (
    Latent,
    Observed,
    gather_parents,
    joint_parent_shape,
    topological_order,
)

#: latents of a graph model: a tuple in declaration order, or a dict keyed by node name
GraphLatents = tuple[torch.Tensor, ...] | Mapping[str, torch.Tensor]


def _factor(name: str, parents: tuple[str, ...], letter: str = "p") -> str:
    return f"{letter}({name} | {', '.join(parents)})" if parents else f"{letter}({name})"


class GraphModel(LatentVariableModel):
    """Latent nodes and one observed node wired as a DAG; see the module docstring."""

    def __init__(self, *nodes: Latent | Observed) -> None:
        super().__init__()
        for node in nodes:
            if not isinstance(node, Latent | Observed):
                raise ValueError(f"GraphModel takes Latent and Observed nodes, got "
                                 f"{type(node).__name__}")
        names = [node.name for node in nodes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"node names must be unique; repeated: {', '.join(repeated)}")
        observed = [node for node in nodes if isinstance(node, Observed)]
        if len(observed) != 1:
            raise ValueError("a GraphModel needs exactly one Observed node (the data x), got "
                             f"{len(observed)}: {', '.join(n.name for n in observed) or 'none'}")
        latents = [node for node in nodes if isinstance(node, Latent)]
        if not latents:
            raise ValueError("a GraphModel needs at least one Latent node")
        data = observed[0]
        self._check_references(nodes, data.name)
        self.observed_name = data.name
        self.latent_names = tuple(node.name for node in latents)
        self.parents = {node.name: node.parents for node in nodes}
        self.guide_parents = {node.name: node.guide_parents for node in latents}
        self.order = topological_order(self.parents, "generative graph")
        self.guide_order = topological_order({data.name: (), **self.guide_parents}, "guide")[1:]
        self.event_shapes = {data.name: data.conditional.event_shape,
                             **{node.name: node.guide.event_shape for node in latents}}
        self._check_shapes(latents, data)
        try:
            self.generative = nn.ModuleDict({node.name: node.generative for node in nodes})
            self.guides = nn.ModuleDict({node.name: node.guide for node in latents})
        except KeyError as error:
            raise ValueError(f"a node name clashes with a module attribute: {error}") from error
        for node in latents:
            if node.prior is not None:
                self._check_prior(node.name)
            else:
                assert node.conditional is not None and node.guide is not None
                check_continuous_latent(node.conditional.family, node.guide.family,
                                        f"latent {node.name!r}")
        generative_ids = {id(p) for p in self.generative.parameters()}
        #: a guide that reuses generative weights voids DReG's assumption (see iwae_bound)
        self.guide_shares_generative_parameters = any(
            id(p) in generative_ids for p in self.guides.parameters())
        self.data_shape = data.conditional.event_shape
        self.data_kind = data.conditional.family.data_kind
        self.latent_dims = tuple(math.prod(self.event_shapes[n]) for n in self.latent_names)

    # ----------------------------------------------------------------- validation
    @staticmethod
    def _check_references(nodes: tuple[Latent | Observed, ...], data: str) -> None:
        declared = [node.name for node in nodes]
        for node in nodes:
            for parent in node.parents:
                if parent not in declared:
                    raise ValueError(f"node {node.name!r}: parent {parent!r} is not a declared node "
                                     f"(declared: {', '.join(declared)})")
            if not isinstance(node, Latent):
                continue
            if data in node.parents:
                raise ValueError(f"latent {node.name!r} has the observed node {data!r} as a "
                                 "generative parent; the data must be a leaf of the graph")
            for parent in node.guide_parents:
                if parent not in declared:
                    raise ValueError(f"latent {node.name!r}: guide parent {parent!r} is not a "
                                     f"declared node (declared: {', '.join(declared)})")

    def _check_shapes(self, latents: list[Latent], data: Observed) -> None:
        """Each conditional reads its parents' joint shape, emits its node's shape, and its
        network's output fits its family (one dry run on zeros)."""
        checks: list[tuple[str, str, tuple[str, ...], ConditionalDistribution]] = []
        for node in latents:
            assert node.guide is not None
            if node.conditional is not None:
                if node.conditional.event_shape != self.event_shapes[node.name]:
                    raise ValueError(
                        f"latent {node.name!r}: {_factor(node.name, node.parents)} has event shape "
                        f"{node.conditional.event_shape} but its guide "
                        f"{_factor(node.name, node.guide_parents, 'q')} has "
                        f"{self.event_shapes[node.name]}")
                checks.append((node.name, _factor(node.name, node.parents), node.parents,
                               node.conditional))
            checks.append((node.name, _factor(node.name, node.guide_parents, "q"),
                           node.guide_parents, node.guide))
        checks.append((data.name, _factor(data.name, data.parents), data.parents, data.conditional))
        for name, role, parents, conditional in checks:
            expected = joint_parent_shape(parents, self.event_shapes)
            if conditional.parent_shape != expected:
                given = f"{parents[0]} has" if len(parents) == 1 else f"{', '.join(parents)} joined have"
                raise ValueError(f"node {name!r}: {role} reads parents of shape "
                                 f"{conditional.parent_shape} but {given} shape {expected}")
            conditional.check_shapes(f"node {name!r}: {role}")

    @torch.no_grad()
    def _check_prior(self, name: str) -> None:
        modes = [(module, module.training) for module in self.modules()]
        self.eval()  # a VampPrior runs the guide: leave its batch-norm statistics alone
        try:
            prior = self.prior_of(name)
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ValueError(f"node {name!r}: prior {type(self.generative[name]).__name__} "
                             f"fails: {reason}") from error
        finally:
            for module, training in modes:
                module.training = training
        shape = self.event_shapes[name]
        if not isinstance(prior, Distribution) or prior.event_shape != shape or prior.batch_shape:
            got = (f"batch {tuple(prior.batch_shape)}, event {tuple(prior.event_shape)}"
                   if isinstance(prior, Distribution) else f"a {type(prior).__name__}")
            raise ValueError(f"node {name!r}: prior {type(self.generative[name]).__name__} gives "
                             f"{got}; the guide needs batch (), event {shape}")
        check_continuous_latent(prior, self.guides[name].family, f"latent {name!r}")

    # ----------------------------------------------------------------- the graph
    @property
    def factorisation(self) -> str:
        """The joint and the guide as products of factors, e.g. "p(z) p(x | z); q(z | x)"."""
        joint = " ".join(_factor(n, self.parents[n]) for n in self.order)
        guide = " ".join(_factor(n, self.guide_parents[n], "q") for n in self.guide_order)
        return f"{joint}; {guide}"

    def named(self, z: GraphLatents | torch.Tensor) -> dict[str, torch.Tensor]:
        """Latents by node name, from a tuple in declaration order (or a dict, checked)."""
        if isinstance(z, Mapping):
            missing = [n for n in self.latent_names if n not in z]
            extra = [n for n in z if n not in self.latent_names]
            if missing or extra:
                raise ValueError(f"latents by name need exactly {', '.join(self.latent_names)}; "
                                 f"missing {missing}, unexpected {extra}")
            return {n: z[n] for n in self.latent_names}
        if isinstance(z, torch.Tensor) and len(self.latent_names) == 1:
            return {self.latent_names[0]: z}
        if not isinstance(z, tuple | list) or len(z) != len(self.latent_names):
            raise ValueError(f"expected a tuple of {len(self.latent_names)} latents "
                             f"({', '.join(self.latent_names)}), got {type(z).__name__}"
                             f"{f' of {len(z)}' if isinstance(z, tuple | list) else ''}")
        return dict(zip(self.latent_names, z, strict=True))

    def _gather(self, parents: tuple[str, ...], values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return gather_parents(parents, values, self.event_shapes)

    def prior_of(self, name: str) -> Distribution:
        """p(z) of a root latent; its prior module gets x ↦ q(z | x) (for a VampPrior)."""
        if self.parents.get(name, ()) or name not in self.guide_parents:
            raise ValueError(f"{name!r} is not a root latent; roots: "
                             f"{', '.join(n for n in self.latent_names if not self.parents[n])}")
        return self.generative[name](partial(self.guide_given_means, name))

    def conditional_of(self, name: str, values: Mapping[str, torch.Tensor]) -> Distribution:
        """p(x_j | Pa(x_j)) at the parents' values (a root latent's prior when it has none)."""
        if not self.parents[name]:
            return self.prior_of(name)
        return self.generative[name](self._gather(self.parents[name], values))

    def guide_given_means(self, name: str, x: torch.Tensor) -> Distribution:
        """q(z | Pa_q(z)) with every latent before z in guide order set to its guide mean."""
        values = {self.observed_name: x}
        for other in self.guide_order:
            q = self.guides[other](self._gather(self.guide_parents[other], values))
            if other == name:
                return q
            values[other] = q.mean
        raise ValueError(f"{name!r} is not a latent node ({', '.join(self.latent_names)})")

    def ancestral_sample(self, sample_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """Every node, latents and data, drawn parents first: x_j ~ p(x_j | Pa(x_j))."""
        return self._ancestral(sample_shape, self.order)

    def _ancestral(self, sample_shape: tuple[int, ...], names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        for name in names:
            dist = self.conditional_of(name, values)
            values[name] = dist.sample(sample_shape if not self.parents[name] else ())
        return values

    # ----------------------------------------------------------------- LatentVariableModel
    def guide_sample(
        self, x: torch.Tensor, sample_shape: tuple[int, ...] = (), stop_guide_gradient: bool = False
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """z_j ~ q(z_j | Pa_q(z_j)) in guide order; a factor whose parents already carry the
        sample dimensions draws one z per parent sample. log q summed over the latents."""
        values = {self.observed_name: x}
        sampled = {self.observed_name: False}
        log_q = torch.zeros((), device=x.device)
        for name in self.guide_order:
            parents = self.guide_parents[name]
            q = self.guides[name](self._gather(parents, values))
            has_samples = any(sampled[p] for p in parents)
            z = q.rsample(() if has_samples else sample_shape)
            log_q = log_q + (detach_parameters(q) if stop_guide_gradient else q).log_prob(z)
            values[name], sampled[name] = z, True
        return tuple(values[n] for n in self.latent_names), log_q

    def log_prior(self, z: GraphLatents) -> torch.Tensor:
        """log p(z) = Σ over latent nodes of log p(z_j | Pa(z_j))."""
        values = self.named(z)
        log_p = torch.zeros((), device=next(iter(values.values())).device)
        for name in self.order:
            if name != self.observed_name:
                log_p = log_p + self.conditional_of(name, values).log_prob(values[name])
        return log_p

    def log_likelihood(self, x: torch.Tensor, z: GraphLatents) -> torch.Tensor:
        """log p(x | Pa(x))."""
        return self.conditional_of(self.observed_name, self.named(z)).log_prob(x)

    def prior_sample(self, sample_shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        values = self._ancestral(sample_shape, tuple(n for n in self.order if n != self.observed_name))
        return tuple(values[n] for n in self.latent_names)

    def decode_mean(self, z: GraphLatents) -> torch.Tensor:
        data = self.generative[self.observed_name]
        return data.mean(self._gather(self.parents[self.observed_name], self.named(z)))

    def encode_mean(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Guide means in guide order, each factor fed the means before it."""
        values = {self.observed_name: x}
        for name in self.guide_order:
            values[name] = self.guides[name](self._gather(self.guide_parents[name], values)).mean
        return tuple(values[n] for n in self.latent_names)
