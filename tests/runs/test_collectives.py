"""The collectives of `Distributed` on two real gloo ranks: sums, flags, maxima and gathers of
unequal (or empty) shards, and the handles kept so no gloo worker frees a Python tensor."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from vaelab.runs import distributed

    context = distributed.setup("cpu")
    kept_before = len(distributed._RECENT_WORK)
    results = {
        "sum": context.sum(torch.tensor([1.0, 2.0]) * (rank + 1)),
        "any": torch.tensor([context.any(rank == 1), context.any(False)]),
        "max": torch.tensor([context.max(float(rank) - 5.0)]),
        # rank 0 holds three values, rank 1 none: the gather is rank 0's three, in order
        "uneven": context.gather(torch.arange(3.0) if rank == 0 else torch.zeros(0)),
        "both": context.gather(torch.full((rank + 1,), float(rank), dtype=torch.float64)),
        "empty": context.gather(torch.zeros(0)),
        # an empty shard made another way (float32) beside float64 values, and a 2-D tensor
        "mixed": context.gather(torch.zeros(0) if rank == 0 else torch.ones(2, dtype=torch.float64)),
        "flattened": context.gather(torch.full((2, 2), float(rank))),
        "kept": torch.tensor([len(distributed._RECENT_WORK) - kept_before]),
    }
    torch.save(results, Path(out) / f"rank{rank}.pt")
    distributed.teardown()


def test_the_collectives_agree_on_both_ranks(tmp_path: Path) -> None:
    mp.spawn(_rank_main, args=(_free_port(), str(tmp_path)), nprocs=2)
    for rank in (0, 1):
        results = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(results["sum"], torch.tensor([3.0, 6.0]))
        assert results["any"].tolist() == [True, False]
        assert results["max"].item() == -4.0
        torch.testing.assert_close(results["uneven"], torch.arange(3.0))
        torch.testing.assert_close(results["both"], torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64))
        assert results["empty"].numel() == 0
        own_dtype = torch.float32 if rank == 0 else torch.float64  # each rank gets its own dtype back
        torch.testing.assert_close(results["mixed"], torch.ones(2, dtype=own_dtype))
        torch.testing.assert_close(results["flattened"], torch.tensor([0.0] * 4 + [1.0] * 4))
        # every collective's handle is still held: sum, 2 × any, max, 2 per gather (sizes,
        # values) for four gathers, 1 for the all-empty gather
        assert results["kept"].item() == 13
