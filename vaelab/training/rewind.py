"""Setting a run back to the start of its epoch when its weights, not a rare batch, went wrong.

A gradient guard (`grad_skip`) skips the rare step whose gradient norm is huge. When every step
is huge for `MAX_SKIPS_IN_A_ROW` steps in a row, skipping would freeze the run where it is, and
taking the steps anyway (clipped) drove a deep hierarchy's scale heads into the bounds of their
squashing, where no gradient brings them back (bench/README.md, "Deep hierarchical VAEs":
a Fashion-MNIST run stuck at −2,740 nats from −1,872). So the loop keeps the weights and the
optimiser's state as each epoch starts, and sets them back there, going on with the epoch's next
batches; after `MAX_REWINDS_PER_EPOCH` rewinds in one epoch it stops with a clear error instead.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from vaelab.training.averaging import WeightAverage

#: steps in a row with a gradient over the guard after which the loop rewinds the epoch
MAX_SKIPS_IN_A_ROW = 50
#: rewinds within one epoch after which the run stops: its start is no longer a good place
MAX_REWINDS_PER_EPOCH = 3


class EpochStart:
    """The weights, the optimiser's state and the weight average (if any) as an epoch starts,
    kept in host memory (about 4× the parameters with Adam and an average: on a GPU it would
    otherwise take device memory from the batches; loading copies it back to the weights' device)."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 average: WeightAverage | None = None) -> None:
        self.model, self.optimizer, self.average = model, optimizer, average
        self.weights = _on_host(model.state_dict())
        self.optimizer_state = _on_host(optimizer.state_dict())
        self.average_state = None if average is None else _on_host(average.state_dict())
        self.rewinds = 0

    def rewind(self) -> None:
        """Set everything back to the epoch's start (`rewinds` counts the times)."""
        self.model.load_state_dict(self.weights)
        # a copy: on the CPU the optimiser would take these very tensors as its state and step them
        self.optimizer.load_state_dict(copy.deepcopy(self.optimizer_state))
        if self.average is not None and self.average_state is not None:
            self.average.load_state_dict(self.average_state)
        self.rewinds += 1


def _on_host(value: Any) -> Any:
    """A copy of a (nested) state dict whose tensors are in host memory."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _on_host(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_host(v) for v in value)
    return copy.deepcopy(value)


__all__ = ["MAX_REWINDS_PER_EPOCH", "MAX_SKIPS_IN_A_ROW", "EpochStart"]
