"""An exponential moving average of a model's weights (Polyak averaging), the weights a run keeps
when `train.ema_decay` > 0.

Late in training the optimiser's noise moves the weights around a good point; their average over
the last ~1 / (1 − decay) steps sits nearer to it, and scores better on held-out data (VDVAE
evaluates its average at decay 0.9999; Polyak & Juditsky 1992). The average is torch's
`AveragedModel` with an EMA update whose decay warms up; validation, the best weights and the
model a run returns are the average, while training steps go on with the raw weights (both are
in the checkpoint, so a resumed run continues exactly).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


class WeightAverage:
    """The EMA of `model`'s parameters (buffers follow the model), started at the model's weights
    now; `update` after each optimiser step, `module` is the averaged model.

    The n-th update uses the decay min(`decay`, (1 + n) / (10 + n)) (TensorFlow's and timm's
    warm-up): early on the average follows the weights closely, so a short run's average is not
    mostly its random start (at 0.9999 without it, 400 steps would leave 96 % of the average at
    the initial weights)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0  # a Python count beside the module's n_averaged: no device sync per step
        self.average = AveragedModel(model, multi_avg_fn=self._fold, use_buffers=False)
        self.average.update_parameters(model)  # the first update copies: the average starts at the model

    def current_decay(self) -> float:
        """The decay of the next update (the warm-up above)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def _fold(self, averaged: list[torch.Tensor], current: list[torch.Tensor], _: torch.Tensor) -> None:
        torch._foreach_lerp_(averaged, current, 1.0 - self.current_decay())

    @property
    def module(self) -> nn.Module:
        """The model with the averaged weights (same class and layout as the trained one)."""
        return self.average.module

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (after an optimiser step)."""
        self.average.update_parameters(model)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights and the update count (`n_averaged`), for a checkpoint."""
        return dict(self.average.state_dict())

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `state_dict` gave."""
        self.average.load_state_dict(tensors)
        self.updates = int(tensors["n_averaged"]) - 1  # n_averaged counts the first copy too

    def copy_into(self, model: nn.Module) -> None:
        """Give `model` the averaged weights (its buffers are the model's own already)."""
        model.load_state_dict(self.module.state_dict())


__all__ = ["WeightAverage"]
