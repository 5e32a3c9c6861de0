"""A run's processes on torch.distributed, switched on by the launcher's environment.

`torchrun --nproc-per-node N -m vaelab train ...` (or `evaluate`) sets RANK, WORLD_SIZE and
LOCAL_RANK; training then wraps its objective in DistributedDataParallel (gloo on CPU, NCCL on
GPU; `vaelab.training.ddp`), shards each global batch across ranks, and evaluation shards the test
set; metrics are reduced over ranks, and rank 0 alone writes the run folder's files. Without
those variables everything runs as one process and nothing here is used.
"""

from __future__ import annotations

import ctypes
import os
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

# The handles of the latest collectives, kept so that their tensors are freed on a thread that
# holds the GIL. A gloo worker thread that drops a reference to a tensor with a Python object must
# take the GIL; once the interpreter is shutting down (DistributedDataParallel keeps the process
# group and its worker threads alive past destroy_process_group), that aborts the process at exit
# ("terminate called without an active exception"). A handle leaves this queue only after many
# later collectives, long after its worker let go of it; the queue itself is never freed, so the
# newest handles are not dropped at exit while a worker may still hold them.
_RECENT_WORK: deque[dist.Work] = deque(maxlen=64)
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_RECENT_WORK))


def _finish(work: dist.Work | None) -> None:
    """Wait for an asynchronous collective and keep its handle (see _RECENT_WORK)."""
    if work is not None:
        work.wait()
        _RECENT_WORK.append(work)


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in the job: its rank, the world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            _finish(dist.barrier(async_op=True))

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Elementwise sum over ranks (identity in a single process)."""
        if self.enabled:
            values = values.clone()
            _finish(dist.all_reduce(values, op=dist.ReduceOp.SUM, async_op=True))
        return values

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any rank, so decisions stay in step."""
        if not self.enabled:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        _finish(dist.all_reduce(value, op=dist.ReduceOp.MAX, async_op=True))
        return bool(value.item() > 0)

    def max(self, value: float) -> float:
        """The largest of every rank's `value`, on every rank."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        _finish(dist.all_reduce(tensor, op=dist.ReduceOp.MAX, async_op=True))
        return float(tensor.item())

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """Concatenate every rank's values (flattened; sizes may differ) in rank order. They
        travel as float64, so ranks whose shards differ in dtype (an empty one, say) agree."""
        if not self.enabled:
            return values.reshape(-1)
        home, dtype = values.device, values.dtype
        flat = values.detach().reshape(-1).to(self.device, torch.float64)
        size = torch.tensor([flat.numel()], dtype=torch.int64, device=self.device)
        sizes = [torch.empty_like(size) for _ in range(self.world_size)]
        _finish(dist.all_gather(sizes, size, async_op=True))
        lengths = [int(s.item()) for s in sizes]
        if max(lengths) == 0:
            return values.reshape(-1)
        padded = torch.zeros(max(lengths), dtype=torch.float64, device=self.device)
        padded[:flat.numel()] = flat
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        _finish(dist.all_gather(parts, padded, async_op=True))
        gathered = torch.cat([part[:length] for part, length in zip(parts, lengths, strict=True)])
        return gathered.to(home, dtype)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def restarted_by_launcher() -> bool:
    """True in a worker that torchrun restarted after a failure (--max-restarts): the run
    then continues from its last checkpoint instead of refusing an existing run folder."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU; an unavailable CUDA request is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r} is not one torch knows; use 'cpu', 'cuda', 'cuda:N' or "
                         "'auto'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: no CUDA device is available here; use 'cpu'")
    return device


def setup(device_name: str) -> Distributed:
    """Join the process group the launcher describes (once), or describe a single process."""
    if not launched_by_torchrun():
        return Distributed(0, 1, resolve_device(device_name))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if wants_cuda else torch.device("cpu")
    if wants_cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        dist.init_process_group(backend="nccl" if wants_cuda else "gloo", store=_store(rank, world_size),
                                rank=rank, world_size=world_size)
    return Distributed(dist.get_rank(), dist.get_world_size(), device)


def _store(rank: int, world_size: int) -> dist.Store:
    """The rendezvous store, with keys scoped to this launch attempt.

    After torchrun restarts failed workers the agent's store still holds the previous
    attempt's peer addresses; without a per-attempt prefix a restarted worker may try to
    connect to a peer that no longer exists.
    """
    agent_hosts_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size,
                          is_master=not agent_hosts_store and rank == 0,
                          timeout=timedelta(minutes=10))
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"vaelab/attempt-{attempt}", store)


def current() -> Distributed | None:
    """The running job's description when a process group is up, else None."""
    if not dist.is_initialized():
        return None
    device = torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend() == "nccl" else torch.device("cpu")
    return Distributed(dist.get_rank(), dist.get_world_size(), device)


def teardown() -> None:
    """Leave the process group, all ranks together (a barrier first), so that no rank goes on
    while another still waits in a collective."""
    if dist.is_initialized():
        _finish(dist.barrier(async_op=True))
        dist.destroy_process_group()


def main_process_after_training() -> bool:
    """Leave the process group once training is over; True in the one process that goes on
    to evaluate and report (rank 0, or the only process), so results are written once."""
    context = current()
    teardown()
    return context is None or context.is_main
