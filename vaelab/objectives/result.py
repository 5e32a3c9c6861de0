"""Containers for what objectives and estimators return: a loss and numbers in nats."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ObjectiveValue:
    """A training objective on one batch.

    `loss` is the scalar to minimise (with gradients); `bound` is the per-example lower bound
    on log p(x) in nats (detached); `terms` holds batch means of its parts, e.g. the expected
    reconstruction log-likelihood and the KL, so a non-finite value can be traced to its term.
    """

    loss: torch.Tensor
    bound: torch.Tensor
    terms: dict[str, torch.Tensor]


@dataclass(frozen=True)
class Estimate:
    """Mean over examples of a per-example quantity, with its standard error (nats)."""

    mean: float
    stderr: float
    n: int

    @staticmethod
    def of(values: torch.Tensor) -> Estimate:
        """Mean ± standard error of the mean of a 1-D tensor of per-example values."""
        values = values.detach().double().flatten()
        n = values.numel()
        if n == 0:
            raise ValueError("cannot summarise an empty set of values")
        std = values.std(unbiased=True).item() if n > 1 else math.nan
        return Estimate(values.mean().item(), std / math.sqrt(n), n)

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "stderr": self.stderr, "n": self.n}

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.stderr:.2f}"
