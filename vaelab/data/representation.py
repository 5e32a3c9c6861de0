"""Fit stored uint8 images to what a likelihood models: 0/1, [0, 1] or 0..255.

Bernoulli likelihoods need binary data; feeding them grey levels gives a number that is not a
log-likelihood of the data, a common error in the field. So grey data meets a Bernoulli
likelihood only through an explicit binarization: dynamic (resampled every epoch, Burda's
protocol) or static (sampled once with a fixed seed).
"""

from __future__ import annotations

from typing import Any

import torch

from vaelab.choices import BINARIZATIONS as BINARIZATIONS
from vaelab.data import DATASET_NAMES, DataError, ImageSet, binarize
from vaelab.data.streamed import StreamedImages

#: images binarized at a time by `static_binarization` (its float32 probabilities are 4× the bytes)
BINARIZE_CHUNK = 4096


def resolve_binarization(binarization: str, dataset: str) -> str:
    """'auto' means the field's protocol for the built-in grey MNIST-family datasets (dynamic
    binarization, Burda et al. 2016) and no binarization — hence a refusal — for user data."""
    if binarization != "auto":
        return binarization
    return "dynamic" if dataset in DATASET_NAMES else "none"


def check_fit(data: ImageSet | StreamedImages, data_kind: str, binarization: str) -> None:
    """Raise DataError when `data` cannot be modelled by a likelihood of `data_kind`.

    `binarization` is a resolved choice (see `resolve_binarization`), not 'auto'.
    """
    if binarization not in BINARIZATIONS:
        raise DataError(f"binarization {binarization!r} is not one of {', '.join(BINARIZATIONS)}")
    if data_kind == "binary" and not data.binary and binarization == "none":
        raise DataError(
            f"dataset {data.name!r} has grey-level pixels but the likelihood is Bernoulli, which "
            "only models 0/1 values. Ask for binarization ('--binarization dynamic' or 'static') "
            "or choose a likelihood for grey levels ('--likelihood logistic8' or 'gaussian')."
        )
    if data_kind == "byte" and data.binary:
        raise DataError(
            f"dataset {data.name!r} is binary (0/1) but the likelihood models 8-bit values; "
            "use '--likelihood bernoulli'."
        )


def check_user_examples(examples: torch.Tensor, data_kind: str, what: str) -> bool:
    """Raise ValueError when a user's examples (a tensor or array given to `vaelab.fit` or
    `vaelab.evaluate`) cannot meet a likelihood of `data_kind`: NaN or inf values, or float values
    other than 0 and 1 for a Bernoulli likelihood. Returns whether uint8 examples are already 0/1
    (used as they are) rather than grey levels (converted, and binarized for a Bernoulli one)."""
    if examples.dtype == torch.uint8:
        binary = examples.numel() > 0 and bool(examples.max() <= 1)
        if binary and data_kind == "byte":
            raise ValueError(f"{what} holds 0/1 values but the likelihood models 8-bit values; "
                             "use a Bernoulli likelihood")
        return binary
    if examples.is_floating_point():
        if not bool(torch.isfinite(examples).all()):
            raise ValueError(f"{what} holds NaN or infinite values")
        if data_kind == "binary" and not bool(((examples == 0) | (examples == 1)).all()):
            raise ValueError(
                f"{what} holds values other than 0 and 1 but the likelihood is Bernoulli, which "
                "only models 0/1 values: pass grey images as uint8 0..255 (binarized afresh every "
                "epoch), binarize them yourself, or choose a likelihood for grey levels")
    return False


def user_examples_in_model_space(examples: torch.Tensor, data_kind: str, what: str,
                                 generator: torch.Generator | None = None,
                                 binary: bool | None = None) -> torch.Tensor:
    """A user's examples as float in the likelihood's units, checked (`check_user_examples`):
    0/1 uint8 as they are, grey uint8 converted (binarized from `generator` for a Bernoulli
    likelihood), floats as they are. `binary` says whether uint8 examples are 0/1 when the
    whole data decided it (a batch of grey images may hold only 0s and 1s)."""
    found = check_user_examples(examples, data_kind, what)
    binary = found if binary is None else binary
    if examples.dtype == torch.uint8:
        return to_model_space(examples, binary, data_kind, generator)
    return examples.float()


def static_binarization(data: ImageSet, seed: int) -> ImageSet:
    """Binarize grey images once with a fixed seed; binary data pass through unchanged."""
    if data.binary:
        return data
    generator = torch.Generator(device="cpu").manual_seed(seed)
    images = torch.empty_like(data.images, device="cpu")
    for start in range(0, len(data), BINARIZE_CHUNK):  # one generator, drawn in order: as one call
        chunk = data.images[start:start + BINARIZE_CHUNK].cpu()
        images[start:start + BINARIZE_CHUNK] = binarize(chunk, generator).to(torch.uint8)
    return ImageSet(images=images.to(data.images.device), labels=data.labels, binary=True,
                    name=data.name)


def to_model_space(
    images: torch.Tensor,
    binary: bool,
    data_kind: str,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 images as float in the likelihood's units; grey + Bernoulli samples 0/1 pixels."""
    if data_kind == "binary":
        return images.float() if binary else binarize(images, generator)
    if data_kind == "byte":
        return images.float()
    return images.float() if binary else images.float() / 255.0


def stack_examples(items: torch.Tensor | list[Any]) -> torch.Tensor:
    """A batch as stored: the tensor a dataset's `__getitems__` read at once, or its items stacked
    (the first element of tuple items: labels are dropped)."""
    if isinstance(items, torch.Tensor):
        return items
    return torch.stack([torch.as_tensor(item[0] if isinstance(item, (tuple, list)) else item)
                        for item in items])
