"""torch.compile on a sequence model's training step: compilation time and steps per second.

Times one optimiser step of the default pendulum state-space model (`vaelab train --model ssm`
defaults: batch 64, 25-frame windows) eager and compiled (inductor), in one run, alternating
eager and compiled steps so that both see the same machine load, and prints the median ratio.

    python bench/sequence_compile.py --steps 30 --threads 2
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from vaelab.kinds.ssm_experiment import SequenceExperiment
from vaelab.kinds.ssm_training import (
    build_sequence_model,
    load_sequence_splits,
    make_sequence_objective,
    make_sequence_optimizer,
)
from vaelab.training.batches import sequence_batch
from vaelab.training.fast_path import compiled
from vaelab.training.loop import train_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps of each kind")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = SequenceExperiment()
    splits = load_sequence_splits(config.data)
    device = torch.device(args.device)
    torch.manual_seed(0)
    models = [build_sequence_model(config, splits["train"]).to(device) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [make_sequence_optimizer(m, config.train) for m in models]
    eager = make_sequence_objective(config.train)
    fast = compiled(eager)  # type: ignore[arg-type]
    window = config.train.window
    batch = sequence_batch(splits["train"], models[0].data_kind, device,
                     torch.arange(config.train.batch_size)).window(0, window)

    def step(i: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        train_step(models[i], optimizers[i], (eager, fast)[i], batch)  # type: ignore[arg-type]
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    first = step(1)
    step(0)
    times: list[list[float]] = [[], []]
    for _ in range(args.steps):
        for i in (0, 1):
            times[i].append(step(i))
    eager_s, fast_s = statistics.median(times[0]), statistics.median(times[1])
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"device {device}, {args.threads} thread(s)")
    print(f"batch {config.train.batch_size} x {window} frames: first compiled step (compilation) "
          f"{first:.1f} s")
    print(f"median step: eager {eager_s * 1000:.0f} ms, compiled {fast_s * 1000:.0f} ms; "
          f"compiled/eager speed-up {eager_s / fast_s:.2f}x over {args.steps} paired steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
