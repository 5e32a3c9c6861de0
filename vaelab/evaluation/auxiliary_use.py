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
"""

from __future__ import annotations

import torch
from torch.distributions import Categorical

from vaelab.models.base import LatentVariableModel
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


@torch.no_grad()
def auxiliary_use(model: LatentVariableModel, x: torch.Tensor, draws: int = DRAWS,
                  seed: int = 0) -> dict[str, float | int | bool] | None:
    """For model-space images x [N, ...] (N >= 2): `classifier_information` (mean over images,
    nats), `spread` and `unused` (both below `UNUSED_INFORMATION_NATS` and `UNUSED_SPREAD`), with
    `draws` draws of a per image from a fixed seed, and the `examples` N; None for a model
    without an auxiliary variable (M2, M1+M2 on an M2)."""
    if draws < 2:
        raise ValueError(f"draws must be >= 2 to see a's effect, got {draws}")
    model.eval()
    m2, h = m2_view(model, x)
    if m2.auxiliary is None:
        return None
    generator = torch.Generator(device=h.device).manual_seed(seed)
    information, means, scales = [], [], []
    for start in range(0, h.shape[0], BATCH):
        part = h[start:start + BATCH]
        q_a = m2.auxiliary_posterior(part)
        noise = torch.randn((draws, *q_a.mean.shape), generator=generator, device=h.device,
                            dtype=q_a.mean.dtype)
        probs = m2.classifier(part, q_a.mean + q_a.stddev * noise).probs
        information.append(classifier_information(probs))
        means.append(q_a.mean)
        scales.append(q_a.stddev)
    info = float(torch.cat(information).mean())
    moved = spread(torch.cat(means), torch.cat(scales))
    return {"classifier_information": info, "spread": moved, "draws": draws, "examples": h.shape[0],
            "unused": info < UNUSED_INFORMATION_NATS and moved < UNUSED_SPREAD}
