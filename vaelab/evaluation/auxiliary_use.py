"""Whether a model with an auxiliary variable a (ADGM, SDGM) uses it.

The auxiliary variable pays only if q(a | x) tells images apart and the classifier q(y | a, x)
listens to a. Neither is guaranteed: when p(a | ·) reads x (the ADGM), it can copy q(a | x), the
KL of a falls to zero, and a may settle into the same noise for every image — the model then
classifies as M2 does, at a higher cost a step. A near-zero KL of a does not tell these apart
(p may also copy an informative q), so two direct measures on held-out images:

- `classifier_information`: I(y; a | x) under q, in nats — how much the class answer moves
  with a, averaged over images;
- `spread`: how far E[a | x] moves across images, in units of q(a | x)'s own scale (per
  dimension, then averaged) — near 0, a is the same noise whatever the image.

And one measure of why: `idle_units`, the share of q(a | x)'s hidden units whose output is the
same for every image (a ReLU unit that never fires is one). A unit idle on a thousand images
passes nothing about the image on; once every unit of a layer is, q(a | x) is a constant and
gradients cannot bring it back (dead ReLUs).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.distributions import Categorical

from vaelab.models.base import LatentVariableModel
from vaelab.nn.mlp import ACTIVATIONS
from vaelab.objectives.semisupervised import m2_view

#: below both of these, `auxiliary_use` calls a unused
UNUSED_INFORMATION_NATS = 0.01
UNUSED_SPREAD = 0.1
DRAWS = 100
BATCH = 500


def classifier_information(probs: torch.Tensor) -> torch.Tensor:
    """I(y; a | x) per image from q(y | a_s, x) for draws a_s ~ q(a | x), probs [S, N, C]: the
    entropy of the averaged answer less the average entropy (the mutual information of y and
    a under q, estimated with the S draws), [N]."""
    def entropy(p: torch.Tensor) -> torch.Tensor:
        return Categorical(probs=p, validate_args=False).entropy()

    return entropy(probs.mean(0)) - entropy(probs).mean(0)


def spread(means: torch.Tensor, scales: torch.Tensor) -> float:
    """Std across images of E[a | x] over the mean of q(a | x)'s std, per dimension, averaged:
    means and scales [N, d_a], N >= 2."""
    if means.shape[0] < 2:
        raise ValueError("the spread of E[a | x] needs at least 2 images")
    return float((means.std(0) / scales.mean(0).clamp_min(1e-12)).mean())


class UnitRanges:
    """Per hidden unit of a network, the lowest and highest output seen over the images it has
    read while `watching` (forward hooks on its activation modules)."""

    def __init__(self, network: nn.Module) -> None:
        self.layers = [module for module in network.modules()
                       if isinstance(module, tuple(ACTIVATIONS.values()))]
        self.low: list[torch.Tensor | None] = [None] * len(self.layers)
        self.high: list[torch.Tensor | None] = [None] * len(self.layers)

    def watching(self) -> list[torch.utils.hooks.RemovableHandle]:
        """Start recording; the caller removes the returned handles."""
        return [layer.register_forward_hook(self._hook(i)) for i, layer in enumerate(self.layers)]

    def _hook(self, i: int) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def record(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            flat = output.reshape(-1, output.shape[-1])
            low, high = flat.amin(0), flat.amax(0)
            self.low[i] = low if self.low[i] is None else torch.minimum(self.low[i], low)
            self.high[i] = high if self.high[i] is None else torch.maximum(self.high[i], high)
        return record

    def idle_share(self) -> float | None:
        """Share of all hidden units whose output never changed; None without activation modules
        (a network of the user's own) or before any image."""
        seen = [(low, high) for low, high in zip(self.low, self.high, strict=True) if low is not None]
        if not seen:
            return None
        idle = sum(int((high == low).sum()) for low, high in seen)
        return idle / sum(low.numel() for low, _ in seen)


@torch.no_grad()
def auxiliary_use(model: LatentVariableModel, x: torch.Tensor, draws: int = DRAWS,
                  seed: int = 0) -> dict[str, float | int | bool] | None:
    """For model-space images x [N, ...] (N >= 2): `classifier_information` (mean over images,
    nats), `spread` and `unused` (both below `UNUSED_INFORMATION_NATS` and `UNUSED_SPREAD`), with
    `draws` draws of a per image from a fixed seed, the `examples` N, and `idle_units` (share of
    q(a | x)'s hidden units constant over the N images; None when its network has no standard
    activation modules); None for a model without an auxiliary variable (M2, M1+M2 on an M2)."""
    if draws < 2:
        raise ValueError(f"draws must be >= 2 to see a's effect, got {draws}")
    model.eval()
    m2, h = m2_view(model, x)
    if m2.auxiliary is None:
        return None
    generator = torch.Generator(device=h.device).manual_seed(seed)
    information, means, scales = [], [], []
    units = UnitRanges(m2.auxiliary.guide)
    for start in range(0, h.shape[0], BATCH):
        part = h[start:start + BATCH]
        handles = units.watching()
        try:
            q_a = m2.auxiliary_posterior(part)
        finally:
            for handle in handles:
                handle.remove()
        noise = torch.randn((draws, *q_a.mean.shape), generator=generator, device=h.device,
                            dtype=q_a.mean.dtype)
        probs = m2.classifier(part, q_a.mean + q_a.stddev * noise).probs
        information.append(classifier_information(probs))
        means.append(q_a.mean)
        scales.append(q_a.stddev)
    info = float(torch.cat(information).mean())
    moved = spread(torch.cat(means), torch.cat(scales))
    return {"classifier_information": info, "spread": moved, "draws": draws, "examples": h.shape[0],
            "unused": info < UNUSED_INFORMATION_NATS and moved < UNUSED_SPREAD,
            "idle_units": units.idle_share()}


def idle_text(use: dict) -> str:
    """"; 99.8% of q(a | x)'s hidden units never change" for an `auxiliary_use` result that
    measured them; "" otherwise (older results, networks of the user's own)."""
    idle = use.get("idle_units")
    return "" if idle is None else f"; {100 * idle:.1f}% of q(a | x)'s hidden units never change"
