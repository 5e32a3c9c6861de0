"""Stochastic binarization of 8-bit images (Salakhutdinov & Murray, 2008)."""

from __future__ import annotations

import hashlib

import torch

from vaelab.data.errors import DataError


def binarize(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Bernoulli sample of uint8 pixels / 255 -> float 0/1 (dynamic binarization, once per epoch).

    Each pixel is 1 with probability equal to its intensity, so the expected value of the result
    is `images / 255`. Pass a seeded `generator` (on the images' device) for reproducibility.
    Sets that are already binary (`ImageSet.binary`) hold 0/1 values: use `images.float()`.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise DataError(f"binarize: images must be a uint8 tensor of 0..255 values, got {got}")
    probs = images.to(torch.float32).div_(255.0)
    return torch.bernoulli(probs, generator=generator)


def binarize_each(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Bernoulli sample of uint8 images [N, ...] -> float 0/1, each image from its own generator
    seeded by `seed` and the image's pixels.

    For images a user hands to a trained model (classify, reconstruct): an image gets the same
    pixels wherever it sits in the batch and on every call, unlike one generator drawn across
    the batch, where an image's draw depends on the images before it.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise DataError(f"binarize_each: images must be a uint8 tensor of 0..255 values, got {got}")
    out = torch.empty(images.shape, dtype=torch.float32, device=images.device)
    salt = seed.to_bytes(8, "little", signed=True)
    for i, image in enumerate(images.cpu().numpy()):
        digest = hashlib.blake2b(image.tobytes(), digest_size=7, salt=salt).digest()
        generator = torch.Generator(device=images.device).manual_seed(int.from_bytes(digest, "little"))
        out[i] = binarize(images[i], generator)
    return out
