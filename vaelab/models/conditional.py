"""The seed's building block: p(x | Pa(x)) = Family(η) with η = f_DNN(Pa(x))."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.distributions.families import Family
from vaelab.distributions.guide_families import make_guide_family


def concatenated(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    """cat(parts, -1) with each part expanded to the parts' common batch dims."""
    batch = torch.broadcast_shapes(*(part.shape[:-1] for part in parts))
    return torch.cat([part.expand(*batch, part.shape[-1]) for part in parts], -1)


def full_precision(eta: torch.Tensor) -> torch.Tensor:
    """η in float32 when a reduced-precision autocast computed it: the matrix products may run
    in bfloat16, but a distribution's log-density (a difference of nearly equal numbers divided
    by a small scale, summed over hundreds of elements) is not to be rounded to 3 digits."""
    return eta.float() if eta.dtype in (torch.bfloat16, torch.float16) else eta


class ConditionalDistribution(nn.Module):
    """A conditional distribution: a network maps parent values to a family's parameters.

    `parents` has shape [*batch, *parent_shape]; the result is a distribution with batch shape
    `batch` and event shape `event_shape`. `family` is a Family, or the name of a guide family
    (q(z | ·) of a latent: "diagonal", "full", "planar:K", "iaf:K", "spline:K"). Any number of
    leading batch dimensions works, so k importance samples [k, B, d] pass through unchanged.
    """

    def __init__(
        self,
        network: nn.Module,
        family: Family | str,
        event_shape: Sequence[int],
        parent_shape: Sequence[int],
    ) -> None:
        super().__init__()
        if isinstance(family, str):  # a guide family by name: "diagonal", "full", "iaf:4", ...
            family = make_guide_family(family)
        self.network = network
        self.event_shape = tuple(event_shape)
        self.parent_shape = tuple(parent_shape)
        #: a family with parameters of its own (a flow's) is an nn.Module: held here, its
        #: parameters are the model's (optimiser, checkpoints)
        self.family = family.bind(self.event_shape)
        #: η's shape for one example: [params_per_element, *event_shape] for most families
        self.param_shape = family.param_shape(self.event_shape)
        self._eta_size = math.prod(self.param_shape)

    def parameters_of(self, parents: torch.Tensor) -> torch.Tensor:
        """η = f_DNN(parents), shaped [*batch, *param_shape] (= [*batch, params_per_element,
        *event_shape] for a family with one set of parameters per element)."""
        n_parent = len(self.parent_shape)
        if tuple(parents.shape[parents.dim() - n_parent:]) != self.parent_shape:
            raise ValueError(
                f"expected inputs (this distribution's parents, e.g. the data for an encoder) "
                f"of shape [batch, {', '.join(map(str, self.parent_shape))}], got {tuple(parents.shape)}"
            )
        batch = parents.shape[: parents.dim() - n_parent]
        eta = full_precision(self.network(parents.reshape(-1, *self.parent_shape)))
        return eta.reshape(*batch, *self.param_shape)

    def forward(self, parents: torch.Tensor) -> Distribution:
        return self.family(self.parameters_of(parents), len(self.event_shape))

    def from_parts(self, parts: Sequence[torch.Tensor]) -> Distribution:
        """The distribution for vector parents cat(parts, -1), parts [*batch, d_i] with batch
        dims that broadcast. A network with `forward_parts` (vaelab's MLP) takes the parts as
        they are, so a part repeated along a batch dim (one image beside each of C classes) is
        multiplied by the first layer once; any other network gets the concatenation."""
        batch = torch.broadcast_shapes(*(part.shape[:-1] for part in parts))
        width = sum(part.shape[-1] for part in parts)
        if self.parent_shape != (width,):
            raise ValueError(f"expected parents of shape [batch, {', '.join(map(str, self.parent_shape))}]"
                             f", got parts of widths {[part.shape[-1] for part in parts]}")
        forward_parts = getattr(self.network, "forward_parts", None)
        if forward_parts is None:
            return self(concatenated(parts))
        eta = full_precision(forward_parts(parts))
        eta = eta.expand(*batch, eta.shape[-1]).reshape(*batch, *self.param_shape)
        return self.family(eta, len(self.event_shape))

    def mean(self, parents: torch.Tensor) -> torch.Tensor:
        """E[x | parents]: the picture to show for a reconstruction or a decoded sample."""
        return self.family.mean(self.parameters_of(parents), len(self.event_shape))

    def check_shapes(self, role: str) -> None:
        """One dry run of the network on zeros [2, *parent_shape], in eval mode and without
        gradients: a network that fails on its parents, or whose output does not hold
        `prod(param_shape)` (params_per_element · prod(event_shape)) numbers per example, raises a one-line
        ValueError starting with `role` and naming the network's class and the shapes."""
        name = type(self.network).__name__
        reference = next(chain(self.network.parameters(), self.network.buffers()), None)
        floating = reference is not None and reference.is_floating_point()
        parents = torch.zeros(2, *self.parent_shape,
                              dtype=reference.dtype if floating else torch.get_default_dtype(),
                              device=reference.device if reference is not None else None)
        modes = [(module, module.training) for module in self.network.modules()]
        self.network.eval()  # no batch-norm statistics or dropout masks from the dry run
        try:
            with torch.no_grad():
                out = self.network(parents)
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ValueError(f"{role}: network {name} fails on parents of shape "
                             f"{list(parents.shape)}: {reason}") from error
        finally:
            for module, training in modes:
                module.training = training
        per_example = self._eta_size
        family = type(self.family).__name__
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"{role}: network {name} returned a {type(out).__name__}; "
                             f"{family} over event shape {self.event_shape} needs one tensor "
                             f"[2, {per_example}]")
        if out.dim() < 1 or out.shape[0] != 2 or out[0].numel() != per_example:
            raise ValueError(f"{role}: network {name} maps parents {list(parents.shape)} to "
                             f"{list(out.shape)}; {family} over event shape {self.event_shape} "
                             f"needs {per_example} numbers per example ([2, {per_example}])")
