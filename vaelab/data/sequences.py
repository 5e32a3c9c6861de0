"""A batch of sequences in a likelihood's units: what a state-space model and its bounds read.

Stored sequences (`vaelab.data.pendulum.SequenceSet`) hold uint8 frames; a batch holds them as
floats in the units the emission likelihood models, with the actions and the mask of observed
frames beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaelab.choices import SSM_LIKELIHOODS


@dataclass(frozen=True)
class SequenceBatch:
    """Sequences in the likelihood's units: frames [B, T, C, H, W] float, actions [B, T, a]
    float, mask [B, T] bool (False = dropped frame, no likelihood term)."""

    frames: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.frames.shape[0])

    @property
    def length(self) -> int:
        return int(self.frames.shape[1])

    def window(self, start: int, stop: int) -> SequenceBatch:
        return SequenceBatch(self.frames[:, start:stop], self.actions[:, start:stop],
                             self.mask[:, start:stop])


def frames_to_model_space(frames: torch.Tensor, data_kind: str) -> torch.Tensor:
    """uint8 frames as float in the likelihood's units: [0, 1] ("unit") or 0..255 ("byte")."""
    if data_kind == "byte":
        return frames.float()
    if data_kind == "unit":
        return frames.float() / 255.0
    raise ValueError(f"grey-level frames cannot be modelled as {data_kind!r} data; "
                     f"use a likelihood among {', '.join(SSM_LIKELIHOODS)}")


__all__ = ["SequenceBatch", "frames_to_model_space"]
