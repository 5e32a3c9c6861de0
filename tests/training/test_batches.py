"""Batch sources: a validation pass ("whole") scores every example exactly once across ranks."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from vaelab.data.pendulum import SequenceSet
from vaelab.runs.distributed import Distributed
from vaelab.training.batches import LoaderBatches, SequenceBatches, TensorBatches

N, BATCH = 7, 4  # fewer examples than one global batch of two ranks


def rank(r: int, world: int = 2) -> Distributed:
    return Distributed(rank=r, world_size=world, device=torch.device("cpu"))


class Numbered(Dataset):
    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor([float(i)])


def numbered_sequences() -> SequenceSet:
    frames = torch.arange(N, dtype=torch.uint8)[:, None, None, None, None].expand(N, 3, 1, 2, 2).clone()
    return SequenceSet(frames=frames, actions=torch.zeros(N, 3, 1), states=torch.zeros(N, 3, 2),
                       mask=torch.ones(N, 3, dtype=torch.bool), name="numbered")


SOURCES = {
    "tensor": (lambda: TensorBatches(torch.arange(N, dtype=torch.float32)[:, None], BATCH, seed=0),
               lambda batch: batch[:, 0]),
    "loader": (lambda: LoaderBatches(Numbered(), BATCH, seed=0, device=torch.device("cpu")),
               lambda batch: batch[:, 0]),
    "sequences": (lambda: SequenceBatches(numbered_sequences(), "byte", BATCH, seed=0,
                                          device=torch.device("cpu")),
                  lambda batch: batch.frames[:, 0, 0, 0, 0]),
}


@pytest.mark.parametrize("name", SOURCES)
def test_a_validation_pass_splits_every_example_once_over_the_ranks(name: str) -> None:
    make, ids_of = SOURCES[name]
    source = make()
    seen = [int(i) for r in (0, 1) for batch, _ in source.epoch(0, rank(r), whole=True)
            for i in ids_of(batch)]
    assert sorted(seen) == list(range(N))
    with pytest.raises(ValueError, match="fewer than one global batch"):
        source.steps_per_epoch(rank(0))  # training still needs one whole global batch


@pytest.mark.parametrize("name", SOURCES)
def test_in_one_process_a_validation_pass_is_the_first_epoch(name: str) -> None:
    make, ids_of = SOURCES[name]
    single = rank(0, world=1)
    whole = [ids_of(batch).tolist() for batch, _ in make().epoch(0, single, whole=True)]
    trained = [ids_of(batch).tolist() for batch, _ in make().epoch(0, single)]
    assert whole == trained and sum(len(ids) for ids in whole) == N
