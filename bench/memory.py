"""Peak memory of `vaelab train` against dataset size, in memory and streamed, and their throughput.

For each size N a synthetic uint8 RGB `.npy` of N × SIDE × SIDE × 3 images (channels last, as
most users save them) is written to a temporary folder, and `vaelab train --dataset X.npy` runs
in a fresh process per size and path, so each peak is that run's alone. Printed per run: the peak
resident set (`ru_maxrss`) of the training process and of its largest DataLoader worker, the
peak of the same run on a tiny dataset (N = 1000: the interpreter, torch, the model, the training
step's and the validation's tensors), and the memory each byte of data adds to the peak:
(peak − tiny-run peak) / (raw uint8 bytes − the tiny set's). The model is small (MLP, hidden 32,
latent 4, Gaussian likelihood) so that the data, not the network, is what is measured, and so
that reading the data costs the most relative to a step.

Throughput is measured in this one process on the largest size: the same model trained from the
in-memory batch source and from the streamed one in alternating rounds of `--steps` steps; the
ratio is the median of the per-round ratios (streamed / in memory).

    python bench/memory.py [--sizes 5000,10000,20000] [--side 64] [--epochs 1] [--workers 0]
                           [--paths memory,stream] [--rounds 8] [--steps 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MB = 1024 * 1024
#: the size of the reference run: 500 validation + 100 test + 400 training images
TINY = 1000


def write_images(path: Path, n: int, side: int, seed: int = 0) -> int:
    """A uint8 [n, side, side, 3] .npy of smooth random images, written in blocks; its raw bytes."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, side, side, 3))
    ramp = np.linspace(0, 1, side, dtype=np.float32)
    for start in range(0, n, 1000):
        k = min(1000, n - start)
        colour = rng.uniform(0, 255, (k, 1, 1, 3)).astype(np.float32)
        noise = rng.uniform(-20, 20, (k, side, side, 3)).astype(np.float32)
        image = colour * ramp[None, :, None, None] + noise
        out[start:start + k] = np.clip(image, 0, 255).astype(np.uint8)
    out.flush()
    del out
    return n * side * side * 3


def child(args: list[str]) -> None:
    """Run `vaelab train ARGS` in this process; print its peak memory as one JSON line."""
    from vaelab.cli.main import main

    started = time.perf_counter()
    code = main(["train", *args])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"code": code, "peak": own, "worker_peak": workers,
                      "seconds": time.perf_counter() - started}), flush=True)


def run_one(data: Path, run_dir: Path, stream: bool, epochs: int, workers: int) -> dict:
    """Train once in a fresh process; its peak memory (bytes) and its wall time."""
    args = ["--dataset", str(data), "--out", str(run_dir), "--epochs", str(epochs),
            "--hidden", "32", "--latent-dim", "4", "--likelihood", "gaussian",
            "--batch-size", "128", "--no-eval", "--no-progress", "--device", "cpu"]
    if stream:
        args += ["--stream", "--workers", str(workers)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, __file__, "--child", *args], env=env,
                          capture_output=True, text=True, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"code": 1}
    if result["code"] != 0:
        raise RuntimeError(f"training failed:\n{done.stdout}\n{done.stderr}")
    return result


def paired_throughput(data: Path, rounds: int, steps: int, workers: int) -> tuple[float, float, float]:
    """(in-memory steps/s, streamed steps/s, median per-round ratio) of one model trained from
    both batch sources of the same file, in alternating rounds."""
    import torch

    from vaelab.models import ModelConfig
    from vaelab.objectives import make_objective
    from vaelab.runs.distributed import Distributed
    from vaelab.training.batches import image_batches, streamed_batches
    from vaelab.training.config import DataConfig, ExperimentConfig
    from vaelab.training.experiment import build_model, load_splits
    from vaelab.training.loop import make_optimizer, train_step

    torch.manual_seed(0)
    single = Distributed(rank=0, world_size=1, device=torch.device("cpu"))
    memory = load_splits(DataConfig(dataset=str(data)), "unit", 0)
    streamed = load_splits(DataConfig(dataset=str(data), stream=True), "unit", 0)
    config = ExperimentConfig(model=ModelConfig(hidden=(32,), latent_dim=4, likelihood="gaussian"))
    model = build_model(config, memory.train.image_shape)
    optimizer, objective = make_optimizer(model, 1e-3), make_objective("elbo", 1)
    sources = {"memory": image_batches(memory.train, "unit", 128, 0, torch.device("cpu")),
               "stream": streamed_batches(streamed.train, "unit", 128, 0, torch.device("cpu"), workers)}
    epochs = dict.fromkeys(sources, 0)
    batches = {name: source.epoch(0, single) for name, source in sources.items()}

    def step(name: str) -> None:
        try:
            batch, _ = next(batches[name])
        except StopIteration:
            epochs[name] += 1
            batches[name] = sources[name].epoch(epochs[name], single)
            batch, _ = next(batches[name])
        train_step(model, optimizer, objective, batch)

    speeds: dict[str, list[float]] = {name: [] for name in sources}
    for name in sources:  # warm-up (and, with workers, their start)
        for _ in range(3):
            step(name)
    for i in range(rounds):
        for name in (("memory", "stream") if i % 2 == 0 else ("stream", "memory")):
            started = time.perf_counter()
            for _ in range(steps):
                step(name)
            speeds[name].append(steps / (time.perf_counter() - started))
    ratios = [s / m for s, m in zip(speeds["stream"], speeds["memory"], strict=True)]
    return statistics.median(speeds["memory"]), statistics.median(speeds["stream"]), statistics.median(ratios)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000", help="dataset sizes N, comma-separated")
    parser.add_argument("--side", type=int, default=64, help="image side (RGB)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per memory run")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the streamed path")
    parser.add_argument("--paths", default="memory,stream", help="memory, stream or both")
    parser.add_argument("--rounds", type=int, default=8, help="throughput: alternating rounds (0 = skip)")
    parser.add_argument("--steps", type=int, default=20, help="throughput: steps per round")
    parser.add_argument("--keep", type=Path, help="write the data and runs here (default: a temp folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    paths = args.paths.split(",")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vaelab-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    tiny = folder / f"images-{TINY}.npy"
    tiny_raw = write_images(tiny, TINY, args.side)
    base = {path: run_one(tiny, folder / f"run-{TINY}-{path}", path == "stream", args.epochs,
                          args.workers)["peak"] for path in paths}
    print(f"{'N':>8} {'raw MB':>8} {'path':>7} {'peak MB':>8} {'worker MB':>9} {f'N={TINY} MB':>9} "
          f"{'data/raw':>8}", flush=True)
    points: dict[str, list[tuple[float, float]]] = {path: [(tiny_raw, base[path])] for path in paths}
    for n in sizes:
        data = folder / f"images-{n}.npy"
        raw = write_images(data, n, args.side)
        for path in paths:
            result = run_one(data, folder / f"run-{n}-{path}", path == "stream", args.epochs, args.workers)
            points[path].append((raw, result["peak"]))
            print(f"{n:>8} {raw / MB:>8.0f} {path:>7} {result['peak'] / MB:>8.0f} "
                  f"{result['worker_peak'] / MB:>9.0f} {base[path] / MB:>9.0f} "
                  f"{(result['peak'] - base[path]) / (raw - tiny_raw):>8.2f}", flush=True)
        if n != sizes[-1] or args.rounds == 0 or set(paths) != {"memory", "stream"}:
            data.unlink()
    slopes = ", ".join(f"{path} {np.polyfit(*zip(*points[path], strict=True), 1)[0]:.2f}" for path in paths)
    print(f"peak memory per byte of data (least-squares slope over N = {TINY} and the sizes): {slopes}")
    if args.rounds > 0 and set(paths) == {"memory", "stream"}:
        data = folder / f"images-{sizes[-1]}.npy"
        memory, stream, ratio = paired_throughput(data, args.rounds, args.steps, args.workers)
        print(f"throughput at N = {sizes[-1]}: in memory {memory:.1f} steps/s, streamed {stream:.1f} "
              f"steps/s (workers = {args.workers}); streamed / in memory {ratio:.2f} "
              f"(median of {args.rounds} rounds of {args.steps} steps)")
        data.unlink()
    tiny.unlink()


if __name__ == "__main__":
    main()
