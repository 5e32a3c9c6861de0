"""ImageSet: one split of image data, kept as uint8 so each likelihood picks its own transform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vaelab.data.errors import DataError


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A split of image data kept as uint8 so each likelihood decides its own transform.

    `images` is uint8 [N, C, H, W] with C in {1, 3}; values are 0..255 intensities, or only
    0/1 when `binary` is True (statically binarized data such as Larochelle & Murray's MNIST).
    `labels` is int64 [N] or None. Equality is identity (tensors have no boolean equality).
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    binary: bool
    name: str

    def __post_init__(self) -> None:
        images = self.images
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
            raise DataError(f"ImageSet {self.name!r}: images must be a uint8 tensor, got {got}")
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise DataError(
                f"ImageSet {self.name!r}: images must have shape [N, C, H, W] with C in (1, 3), "
                f"got {tuple(images.shape)}"
            )
        if self.labels is not None:
            labels = self.labels
            if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
                raise DataError(f"ImageSet {self.name!r}: labels must be an int64 tensor or None")
            if labels.shape != (images.shape[0],):
                raise DataError(
                    f"ImageSet {self.name!r}: labels must have shape [{images.shape[0]}] to match "
                    f"the images, got {tuple(labels.shape)}"
                )
        if self.binary and images.numel() > 0 and int(images.max()) > 1:
            raise DataError(
                f"ImageSet {self.name!r}: binary=True but pixel values go up to "
                f"{int(images.max())}; binary sets hold only 0 and 1"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: slice | int | torch.Tensor) -> ImageSet:
        """The examples at `index` as an ImageSet: a slice (`data["test"][:64]`), one position,
        integer positions or a boolean mask (see `subset`)."""
        if isinstance(index, slice):
            return self.subset(torch.arange(len(self))[index])
        if isinstance(index, int):
            if not -len(self) <= index < len(self):
                raise IndexError(f"ImageSet {self.name!r}: index {index} is out of range for "
                                 f"{len(self)} examples")
            return self.subset(torch.tensor([index % len(self)]))
        return self.subset(index)

    def batch(self, model: Any, count: int | None = None, seed: int = 0) -> torch.Tensor:
        """The first `count` examples (all when None) as a float batch in the units of `model`'s
        likelihood — what the estimators take: 0/1 for a Bernoulli likelihood (grey images
        binarized from `seed`), [0, 1] grey levels, or 0..255 for an 8-bit one. `model` is a
        model, or its `data_kind` ("binary", "unit" or "byte")."""
        from vaelab.data.representation import to_model_space

        data_kind = model if isinstance(model, str) else getattr(model, "data_kind", None)
        if data_kind not in ("binary", "unit", "byte"):
            raise DataError(f"ImageSet.batch: expected a model (with a data_kind) or one of 'binary', "
                            f"'unit', 'byte', got {model!r}")
        images = self.images if count is None else self.images[:count]
        generator = torch.Generator(device=images.device).manual_seed(seed)
        return to_model_space(images, self.binary, data_kind, generator)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        _, c, h, w = self.images.shape
        return int(c), int(h), int(w)

    def subset(self, index: torch.Tensor) -> ImageSet:
        """The examples at `index` (integer positions or a boolean mask of length N)."""
        if not isinstance(index, torch.Tensor):
            raise DataError(f"ImageSet.subset: index must be a tensor, got {type(index).__name__}")
        if index.dtype == torch.bool:
            if index.shape != (len(self),):
                raise DataError(
                    f"ImageSet.subset: a boolean mask must have shape [{len(self)}], "
                    f"got {tuple(index.shape)}"
                )
        elif index.is_floating_point() or index.is_complex() or index.dim() != 1:
            raise DataError(
                "ImageSet.subset: index must be a 1-D integer tensor or a boolean mask, "
                f"got dtype {index.dtype} and shape {tuple(index.shape)}"
            )
        labels = None if self.labels is None else self.labels[index]
        return ImageSet(self.images[index], labels, self.binary, self.name)
