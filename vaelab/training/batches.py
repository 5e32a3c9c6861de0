"""Batch sources for the training loop: what one step's batch is, for each kind of data.

Each source shuffles with a generator seeded by the run's seed and the epoch alone, so a resumed
run sees exactly the batches an uninterrupted run would. Under torch.distributed each step takes
one global batch of batch_size × world_size examples and rank r trains on its r-th slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from vaelab.data.imageset import ImageSet
from vaelab.data.pendulum import SequenceSet
from vaelab.data.representation import stack_examples, to_model_space
from vaelab.data.sequences import SequenceBatch, frames_to_model_space
from vaelab.data.streamed import StreamedImages
from vaelab.runs.distributed import Distributed
from vaelab.training.engine import epoch_seed


def _steps(n: int, batch_size: int, context: Distributed) -> int:
    """Steps per epoch: every example once; across ranks the last incomplete global batch is dropped."""
    global_batch = batch_size * context.world_size
    steps = n // global_batch if context.enabled else math.ceil(n / global_batch)
    if steps == 0:
        raise ValueError(f"{n} training examples are fewer than one global batch of {global_batch}")
    return steps


def _rank_rows(order: torch.Tensor, batch_size: int, context: Distributed,
               whole: bool) -> Iterator[torch.Tensor]:
    """This rank's rows of `order` for each step: its slice of every global batch (training), or
    with `whole` its every world_size-th row in batches, so that across ranks every example is
    scored exactly once and none is dropped (validation; ranks may take one batch more or less)."""
    if whole:
        mine = order[context.rank::context.world_size]
        for start in range(0, mine.shape[0], batch_size):
            yield mine[start:start + batch_size]
        return
    global_batch = batch_size * context.world_size
    for i in range(_steps(order.shape[0], batch_size, context)):
        start = i * global_batch + context.rank * batch_size
        yield order[start:min(start + batch_size, (i + 1) * global_batch)]


class TensorBatches:
    """Minibatches of a tensor of examples held on the device, reshuffled every epoch.

    `prepare(x, generator)` turns stored rows into the model's units (e.g. uint8 pixels into
    dynamically binarized 0/1 values, resampled every epoch from `generator`); by default rows
    are used as they are.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, seed: int,
                 prepare: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.prepare = prepare

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def steps_per_epoch(self, context: Distributed) -> int:
        return _steps(len(self), self.batch_size, context)

    def epoch(self, epoch: int, context: Distributed,
              whole: bool = False) -> Iterator[tuple[torch.Tensor, int]]:
        device = self.data.device
        shuffle = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        pixels = torch.Generator(device=device).manual_seed(epoch_seed(self.seed, epoch) + 1 + context.rank)
        order = torch.randperm(len(self), generator=shuffle).to(device)
        for index in _rank_rows(order, self.batch_size, context, whole):
            rows = self.data[index]
            x = self.prepare(rows, pixels) if self.prepare is not None else rows
            yield x, int(x.shape[0])


def image_batches(images: ImageSet, data_kind: str, batch_size: int, seed: int,
                  device: torch.device) -> TensorBatches:
    """Batches of an image set, kept as uint8 on the device until each batch is drawn and put in
    the likelihood's units (grey pixels meet a Bernoulli likelihood binarized afresh each epoch)."""
    binary = images.binary

    def prepare(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return to_model_space(rows, binary, data_kind, generator)

    return TensorBatches(images.images.to(device), batch_size, seed, prepare)


def sequence_batch(data: SequenceSet, data_kind: str, device: torch.device | str = "cpu",
                   index: torch.Tensor | slice | None = None) -> SequenceBatch:
    """Sequences (all, or those at `index`) in the likelihood's units on `device`."""
    if index is not None:
        data = data.subset(index)
    return SequenceBatch(frames=frames_to_model_space(data.frames.to(device), data_kind),
                         actions=data.actions.to(device), mask=data.mask.to(device))


def random_windows(batch: SequenceBatch, window: int, generator: torch.Generator) -> SequenceBatch:
    """One random window of `window` frames per sequence (all frames when shorter)."""
    if window <= 0 or window >= batch.length:
        return batch
    starts = torch.randint(0, batch.length - window + 1, (batch.size,), generator=generator)
    index = (starts[:, None] + torch.arange(window)[None]).to(batch.frames.device)
    rows = torch.arange(batch.size, device=batch.frames.device)[:, None]
    return SequenceBatch(batch.frames[rows, index], batch.actions[rows, index], batch.mask[rows, index])


class SequenceBatches:
    """Minibatches of whole sequences, each cut to a random window of `window` frames (0 = whole
    sequences), kept as uint8 on the CPU until a batch is drawn."""

    #: added to the epoch seed so sequence and frame runs of one seed shuffle differently
    SEED_OFFSET = 17

    def __init__(self, data: SequenceSet, data_kind: str, batch_size: int, seed: int,
                 device: torch.device, window: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.data, self.data_kind, self.batch_size = data, data_kind, batch_size
        self.seed, self.device, self.window = seed, device, window

    def __len__(self) -> int:
        return len(self.data)

    def steps_per_epoch(self, context: Distributed) -> int:
        return _steps(len(self), self.batch_size, context)

    def epoch(self, epoch: int, context: Distributed,
              whole: bool = False) -> Iterator[tuple[SequenceBatch, int]]:
        shuffle = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, self.SEED_OFFSET))
        order = torch.randperm(len(self), generator=shuffle)
        for index in _rank_rows(order, self.batch_size, context, whole):
            batch = sequence_batch(self.data, self.data_kind, self.device, index)
            batch = random_windows(batch, self.window, shuffle)
            yield batch, batch.size


class LoaderBatches:
    """Minibatches of any `torch.utils.data.Dataset` through a DataLoader (worker processes
    read and decode while the model trains; memory stays flat as the dataset grows).

    An item may be a tensor or a tuple whose first element is the example (labels are ignored).
    The order is seeded per epoch like the other sources, and the loader's own seed is drawn from
    it, so the global RNG (the model's noise) is never touched: with the same `prepare` and seed
    the batches are exactly those `TensorBatches` draws from the same examples in memory.
    `prepare(x, generator)`, when given, puts each batch (kept as stored, e.g. uint8, until it is
    on the device) in the model's units; without it items are stacked as float tensors.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device: torch.device,
                 workers: int = 0,
                 prepare: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.device, self.workers, self.prepare = device, workers, prepare

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def steps_per_epoch(self, context: Distributed) -> int:
        return _steps(len(self), self.batch_size, context)

    def epoch(self, epoch: int, context: Distributed,
              whole: bool = False) -> Iterator[tuple[torch.Tensor, int]]:
        seed = epoch_seed(self.seed, epoch)
        shuffle = torch.Generator().manual_seed(seed)
        pixels = torch.Generator(device=self.device).manual_seed(seed + 1 + context.rank)
        order = torch.randperm(len(self), generator=shuffle)
        mine = [index.tolist() for index in _rank_rows(order, self.batch_size, context, whole)]
        if not mine:  # this rank's share of a small held-out set is empty
            return
        loader = DataLoader(self.dataset, batch_sampler=mine, num_workers=self.workers,
                            collate_fn=_collate_examples if self.prepare is None else stack_examples,
                            pin_memory=self.device.type == "cuda",
                            generator=torch.Generator().manual_seed(epoch_seed(self.seed, epoch, 2)),
                            persistent_workers=False)
        for x in loader:
            x = x.to(self.device, non_blocking=True)
            if self.prepare is not None:
                x = self.prepare(x, pixels)
            yield x, int(x.shape[0])


def streamed_batches(images: StreamedImages, data_kind: str, batch_size: int, seed: int,
                     device: torch.device, workers: int = 0) -> LoaderBatches:
    """Batches of images read from disk a batch at a time (by `workers` DataLoader processes,
    or this one when 0), kept uint8 until on the device; the same batches, in the same order
    and in the same units, as `image_batches` of the same images in memory."""
    binary = images.binary

    def prepare(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return to_model_space(rows, binary, data_kind, generator)

    return LoaderBatches(images, batch_size, seed, device, workers, prepare)


def _collate_examples(items: list[Any]) -> torch.Tensor:
    """Stack the examples of a batch as float tensors."""
    batch = stack_examples(items)
    return batch if batch.is_floating_point() else batch.float()


__all__ = ["LoaderBatches", "SequenceBatches", "TensorBatches", "image_batches", "random_windows",
           "sequence_batch", "streamed_batches"]
