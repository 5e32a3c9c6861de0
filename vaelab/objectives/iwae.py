"""The importance-weighted bound (Burda et al. 2016) and its low-variance gradients.

IWAE_k = E[log (1/k) Σ_i w_i], w_i = p(x, z_i) / q(z_i | x), z_i ~ q(z | x). IWAE_1 is the
ELBO and the bound rises monotonically towards log p(x) as k grows. Its plain gradient for the
encoder gets noisier relative to its size as k grows (Rainforth et al. 2018); the doubly
reparameterised estimator (DReG, Tucker et al. 2019) fixes that at no extra cost.
"""

from __future__ import annotations

import math

import torch

from vaelab.models.base import LatentVariableModel
from vaelab.objectives.inputs import check_observations
from vaelab.objectives.result import ObjectiveValue

IWAE_GRADIENTS = ("standard", "dreg", "stl")


def log_importance_weights(
    model: LatentVariableModel, x: torch.Tensor, k: int, stop_guide_gradient: bool = False
) -> tuple[torch.Tensor, object]:
    """log w_i = log p(x, z_i) − log q(z_i | x) for k reparameterised z_i: ([k, B], z)."""
    z, log_q = model.guide_sample(x, (k,), stop_guide_gradient)
    return model.log_joint(x, z) - log_q, z


def iwae_bound(
    model: LatentVariableModel, x: torch.Tensor, samples: int = 5, gradient: str = "standard",
    *, check_input: bool = True,
) -> ObjectiveValue:
    """IWAE_k per example; the loss's gradient is the chosen estimator of ∇ IWAE_k.

    - "standard": the importance-weighted ELBO gradient (Burda et al.).
    - "stl": log q scored with stopped guide parameters (Roeder et al. 2017).
    - "dreg": doubly reparameterised (Tucker et al. 2019): the encoder's gradient is weighted
      by the squared normalised weights w̃_i², the decoder's by w̃_i.
    `check_input=False` skips the check of x's values (a training loop checked its data once).
    """
    if check_input:
        check_observations(model, x)
    if samples < 1:
        raise ValueError(f"IWAE needs samples >= 1, got {samples}")
    if gradient not in IWAE_GRADIENTS:
        raise ValueError(f"unknown IWAE gradient {gradient!r}; choose one of {IWAE_GRADIENTS}")
    if gradient == "dreg" and getattr(model, "guide_shares_generative_parameters", False):
        raise ValueError("the DReG gradient assumes the guide's parameters reach the bound only "
                         "through z; this model's guide shares the generative conditionals "
                         "(top-down inference): use the 'standard' or 'stl' gradient")
    log_w, z = log_importance_weights(model, x, samples, stop_guide_gradient=gradient != "standard")
    bound = torch.logsumexp(log_w, dim=0) - math.log(samples)
    weights = torch.softmax(log_w.detach(), dim=0)
    if gradient == "dreg":
        # The encoder only reaches the loss through z: scaling z's gradient by w̃ turns the
        # decoder-style weights w̃ into the encoder's w̃² (Tucker et al. 2019, eq. 7).
        for tensor in z if isinstance(z, tuple) else (z,):
            if tensor.requires_grad:
                tensor.register_hook(_scale_by(weights))
        loss = -(weights * log_w).sum(0).mean()
    else:
        loss = -bound.mean()
    ess = 1.0 / (weights**2).sum(0)
    return ObjectiveValue(
        loss=loss,
        bound=bound.detach(),
        terms={"log_weight": log_w.detach().mean(), "ess": ess.mean()},
    )


def _scale_by(weights: torch.Tensor):
    def hook(grad: torch.Tensor) -> torch.Tensor:
        return grad * weights.reshape(*weights.shape, *([1] * (grad.dim() - weights.dim())))

    return hook
