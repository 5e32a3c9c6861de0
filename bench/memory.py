"""Peak memory of `vaelab train` against dataset size, in memory and streamed, and their throughput.

For each size N a synthetic uint8 RGB `.npy` of N × SIDE × SIDE × 3 images (channels last, as
most users save them) is written to a temporary folder, and `vaelab train --dataset X.npy` runs
in a fresh process per size and path, so each peak is that run's alone. The peak resident set
(`ru_maxrss`) of the training process and of its largest DataLoader worker is printed with its
ratio to the raw uint8 bytes of the file. The model is small (MLP, hidden 32, latent 4, Gaussian
likelihood) so the data, not the network, is what is measured; the same runs give the training
steps per second of the last epoch, and the ratio streamed / in memory.

    python bench/memory.py [--sizes 5000,10000,20000] [--side 64] [--epochs 2] [--workers 0]
                           [--paths memory,stream] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MB = 1024 * 1024


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
    """Train once in a fresh process; its peak memory and the last epoch's steps per second."""
    args = ["--dataset", str(data), "--out", str(run_dir), "--epochs", str(epochs),
            "--hidden", "32", "--latent-dim", "4", "--likelihood", "gaussian",
            "--batch-size", "128", "--no-eval", "--no-progress", "--device", "cpu"]
    if stream:
        args += ["--stream", "--workers", str(workers)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, __file__, "--child", *args], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"training failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last, before = records[-1], (records[-2] if len(records) > 1 else {"step": 0, "seconds": 0.0})
    result["steps_per_s"] = (last["step"] - before["step"]) / (last["seconds"] - before["seconds"])
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000", help="dataset sizes N, comma-separated")
    parser.add_argument("--side", type=int, default=64, help="image side (RGB)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (throughput: the last)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the streamed path")
    parser.add_argument("--paths", default="memory,stream", help="memory, stream or both")
    parser.add_argument("--keep", type=Path, help="write the data and runs here (default: a temp folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    paths = args.paths.split(",")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vaelab-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'N':>8} {'raw MB':>8} {'path':>7} {'peak MB':>8} {'worker MB':>9} {'peak/raw':>8} "
          f"{'steps/s':>8}", flush=True)
    speed: dict[str, float] = {}
    for n in sizes:
        data = folder / f"images-{n}.npy"
        raw = write_images(data, n, args.side)
        for path in paths:
            result = run_one(data, folder / f"run-{n}-{path}", path == "stream", args.epochs, args.workers)
            speed[path] = result["steps_per_s"]
            print(f"{n:>8} {raw / MB:>8.0f} {path:>7} {result['peak'] / MB:>8.0f} "
                  f"{result['worker_peak'] / MB:>9.0f} {result['peak'] / raw:>8.2f} "
                  f"{result['steps_per_s']:>8.1f}", flush=True)
        data.unlink()
    if {"memory", "stream"} <= set(speed):
        print(f"streamed / in-memory steps per second at N = {sizes[-1]}: "
              f"{speed['stream'] / speed['memory']:.2f} (workers = {args.workers})")


if __name__ == "__main__":
    main()
