"""Timing contenders fairly in one process: interleaved rounds, medians, paired ratios (and the
MNIST-like inputs they are timed on).

Shared by the throughput benchmarks (bench/throughput.py, bench/deep_throughput.py): each
contender is (timer, state) with timer(images, steps, state) -> images per second.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

Timer = Callable[[torch.Tensor, int, Any], float]


def fake_mnist(n: int, device: torch.device) -> torch.Tensor:
    """uint8 images [n, 1, 28, 28] with MNIST-like sparsity (timing does not depend on content)."""
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, 1, 28, 28, generator=g) ** 4 * 255).to(torch.uint8).to(device)


def interleaved_rates(contenders: dict[str, tuple[Timer, Any]], images: torch.Tensor, rounds: int,
                      steps: int, warmup: int) -> dict[str, list[float]]:
    """Images/s of each contender per round, after `warmup` steps each; the order alternates
    round by round so slow drifts of the machine cancel out."""
    for timer, state in contenders.values():
        timer(images, warmup, state)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            timer, state = contenders[name]
            rates[name].append(timer(images, steps, state))
    return rates


def print_rates(rates: dict[str, list[float]], header: str, width: int = 8) -> None:
    """The header line, then each contender's median rate with its range."""
    print(header)
    for name, values in rates.items():
        print(f"  {name:<14} {statistics.median(values):{width}.0f} images/s (median; "
              f"min {min(values):.0f}, max {max(values):.0f})")


def paired_ratio(rates: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of a's rate / b's rate in the same round."""
    return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))
