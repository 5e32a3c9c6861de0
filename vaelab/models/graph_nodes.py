"""The nodes a `GraphModel` is declared with, and the graph bookkeeping it derives from them.

A node is a named random variable x_j with its parents Pa(x_j) and its conditional
p(x_j | Pa(x_j)) = Family(f_DNN(Pa(x_j))); a latent node also names its guide factor
q(z_j | Pa_q(z_j)). From the declaration follow a topological order (ancestral sampling,
log p), a guide order (reparameterised guide samples), and the parents' joint shape.

Several parents are fed to one network as a single vector: each parent is flattened over its
event dimensions and they are concatenated in the order the node lists them (shape
[Σ_j prod(shape_j)]). A single parent is passed as it is, so an image x [C, H, W] reaches a
convolutional encoder unflattened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vaelab.models.conditional import ConditionalDistribution


def _names(node: str, field: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError(f"node {node!r}: {field} must be a tuple of node names, got the string "
                         f"{value!r} (write ({value!r},))")
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"node {node!r}: {field} must be a tuple of node names, got {value!r}")
    return tuple(value)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"node names must be Python identifiers, got {name!r}")


@dataclass(frozen=True, eq=False)
class Latent:
    """A latent node z with its generative factor and its guide factor.

    A root (no `parents`) takes `prior`: a module called with x ↦ q(z | x) that returns p(z)
    (StandardNormalPrior, MixtureOfGaussiansPrior, VampPrior). Any other latent takes
    `conditional`: p(z | Pa(z)) as a ConditionalDistribution over its parents. Every latent needs
    `guide`, q(z | Pa_q(z)), a ConditionalDistribution over `guide_parents` (the observed node
    and/or other latents), e.g. q(z2 | z1) or q(z1 | x).
    """

    name: str
    parents: tuple[str, ...] = ()
    prior: nn.Module | None = None
    conditional: ConditionalDistribution | None = None
    guide: ConditionalDistribution | None = None
    guide_parents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "parents", _names(self.name, "parents", self.parents))
        object.__setattr__(self, "guide_parents",
                           _names(self.name, "guide_parents", self.guide_parents))
        if self.parents and self.prior is not None:
            raise ValueError(f"latent {self.name!r} has parents {self.parents}: give "
                             "conditional=p(z | parents), not prior=")
        if not self.parents and self.conditional is not None:
            raise ValueError(f"latent {self.name!r} has no parents: give prior=p(z), not "
                             "conditional=")
        if not self.parents and not isinstance(self.prior, nn.Module):
            raise ValueError(f"latent {self.name!r} has no parents and needs prior=, a module "
                             "returning p(z)")
        if self.parents and not isinstance(self.conditional, ConditionalDistribution):
            raise ValueError(f"latent {self.name!r} needs conditional=, a ConditionalDistribution "
                             f"p({self.name} | {', '.join(self.parents)})")
        if not isinstance(self.guide, ConditionalDistribution) or not self.guide_parents:
            raise ValueError(f"latent {self.name!r} needs a guide: guide=ConditionalDistribution "
                             f"q({self.name} | ...) and its guide_parents")

    @property
    def generative(self) -> nn.Module:
        """p(z) for a root, p(z | Pa(z)) otherwise."""
        module = self.prior if self.prior is not None else self.conditional
        assert module is not None
        return module


@dataclass(frozen=True, eq=False)
class Observed:
    """The observed node x: p(x | Pa(x)) = Family(f_DNN(Pa(x))), a ConditionalDistribution."""

    name: str
    parents: tuple[str, ...]
    conditional: ConditionalDistribution

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "parents", _names(self.name, "parents", self.parents))
        if not self.parents:
            raise ValueError(f"observed node {self.name!r} needs at least one latent parent")
        if not isinstance(self.conditional, ConditionalDistribution):
            raise ValueError(f"observed node {self.name!r} needs conditional=, a "
                             f"ConditionalDistribution p({self.name} | {', '.join(self.parents)})")

    @property
    def generative(self) -> ConditionalDistribution:
        return self.conditional


def topological_order(parents: Mapping[str, Sequence[str]], graph: str) -> tuple[str, ...]:
    """Every node after its parents, ties broken by declaration order (Kahn's algorithm).

    A cycle raises a ValueError naming it, e.g. "the generative graph has a cycle: a -> b -> a".
    """
    order: list[str] = []
    placed: set[str] = set()
    remaining = dict(parents)
    while remaining:
        ready = next((n for n, ps in remaining.items() if all(p in placed for p in ps)), None)
        if ready is None:
            raise ValueError(f"the {graph} has a cycle: {' -> '.join(_a_cycle(remaining))}")
        order.append(ready)
        placed.add(ready)
        del remaining[ready]
    return tuple(order)


def _a_cycle(remaining: Mapping[str, Sequence[str]]) -> list[str]:
    """Walk unplaced parents from any unplaced node until a node repeats: that loop is a cycle."""
    path = [next(iter(remaining))]
    while True:
        parent = next(p for p in remaining[path[-1]] if p in remaining)
        if parent in path:
            loop = path[path.index(parent):] + [parent]
            return list(reversed(loop))  # parent -> child arrows
        path.append(parent)


def joint_parent_shape(names: Sequence[str], shapes: Mapping[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The shape a conditional reads: one parent's own shape, or several flattened and joined."""
    if len(names) == 1:
        return shapes[names[0]]
    return (sum(math.prod(shapes[n]) for n in names),)


def gather_parents(names: Sequence[str], values: Mapping[str, torch.Tensor],
                   shapes: Mapping[str, tuple[int, ...]]) -> torch.Tensor:
    """The parents' values as one tensor [*lead, *joint_parent_shape]; leading (sample, batch)
    dimensions broadcast, so x [B, D] joins z [k, B, d] as [k, B, D + d]."""
    if len(names) == 1:
        return values[names[0]]
    flat = []
    for name in names:
        value = values[name]
        lead = value.dim() - len(shapes[name])
        flat.append(value.reshape(*value.shape[:lead], -1))
    lead_shape = torch.broadcast_shapes(*(f.shape[:-1] for f in flat))
    return torch.cat([f.expand(*lead_shape, f.shape[-1]) for f in flat], dim=-1)
