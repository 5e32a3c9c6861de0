"""An objective under DistributedDataParallel: what the training loop wraps across ranks.

DDP synchronises the gradients of what runs inside a wrapped module's forward; objectives call
a model's distributions rather than its forward, so the objective itself is what gets wrapped.
Where a process stands in the job (its rank, device, the collective operations) is
`vaelab.runs.distributed`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import ObjectiveValue
from vaelab.runs.distributed import Distributed


class ObjectiveModule(nn.Module):
    """An objective of a model as a module whose forward computes it.

    DistributedDataParallel synchronises gradients of what runs inside a wrapped module's
    forward; objectives call a model's distributions rather than its forward, so the
    objective itself is what gets wrapped.
    """

    def __init__(self, model: LatentVariableModel,
                 objective: Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue]):
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
        return self.objective(self.model, x, kl_weight)


def wrap_objective(
    model: LatentVariableModel,
    objective: Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue],
    context: Distributed,
) -> Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue]:
    """The objective unchanged in one process; across ranks, the same objective under DDP."""
    if not context.enabled:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    ids = [context.device.index] if context.device.type == "cuda" else None
    wrapped = DistributedDataParallel(ObjectiveModule(model, objective), device_ids=ids)
    return lambda _model, x, kl_weight: wrapped(x, kl_weight)
