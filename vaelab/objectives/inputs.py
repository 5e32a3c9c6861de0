"""The one check every public estimator makes of its data: values the likelihood can score.

A Bernoulli likelihood scores grey values x ∈ (0, 1) without complaint — log p = x log μ +
(1 − x) log(1 − μ) is defined for any x — but the number is no log-likelihood of the data, a
common error in the field. The estimators refuse such input instead of returning it.
"""

from __future__ import annotations

import torch


def check_observations(model: object, x: object) -> None:
    """ValueError when `x` holds values other than 0 and 1 and `model`'s likelihood is Bernoulli
    (`model.data_kind == "binary"`); other models and inputs pass unchecked."""
    if getattr(model, "data_kind", None) != "binary" or not isinstance(x, torch.Tensor):
        return
    if x.is_floating_point() and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(
            "x holds values other than 0 and 1 but the model's likelihood is Bernoulli, which only "
            "models 0/1 values: binarize grey images first (a batch in the model's units: "
            "`data['test'].batch(model, 64)`), or choose a likelihood for grey levels")
