"""An exponential moving average of a model's weights (Polyak averaging), the weights a run keeps
when `train.ema_decay` > 0.

Late in training the optimiser's noise moves the weights around a good point; their average over
the last ~1 / (1 − decay) steps sits nearer to it, and scores better on held-out data (VDVAE
evaluates its average at decay 0.9999; Polyak & Juditsky 1992). The average is torch's
`AveragedModel` with its EMA update; validation, the best weights and the model a run returns are
the average, while training steps go on with the raw weights (both are in the checkpoint, so a
resumed run continues exactly).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    """The EMA of `model`'s parameters at `decay` (buffers follow the model), started at the
    model's weights now; `update` after each optimiser step, `module` is the averaged model."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
        self.average.update_parameters(model)  # the first update copies: the average starts at the model

    @property
    def module(self) -> nn.Module:
        """The model with the averaged weights (same class and layout as the trained one)."""
        return self.average.module

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (after an optimiser step)."""
        self.average.update_parameters(model)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights and the update count, for a checkpoint."""
        return dict(self.average.state_dict())

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `state_dict` gave."""
        self.average.load_state_dict(tensors)

    def copy_into(self, model: nn.Module) -> None:
        """Give `model` the averaged weights (its buffers are the model's own already)."""
        model.load_state_dict(self.module.state_dict())


__all__ = ["WeightAverage"]
