"""The inference gap of trained runs, split into approximation and amortization gaps (Cremer, Li
& Duvenaud 2018), on N test images: the shape of their Table 2 for a Gaussian guide (issue 25,
item 3). Each run folder is loaded by its kind; its first N test images are scored with the
importance-sampled log p(x) (k samples), the amortized ELBO L[q] and the ELBO L[q*] of each
image's best diagonal Gaussian (Adam on the guide's parameters from the encoder's); with
--flow planar:K also L[q*_flow], a K-step planar flow on the guide fitted per image from the
encoder's output (Cremer et al.'s L[q*_AF]), and what it recovers of the approximation gap.

    OMP_NUM_THREADS=1 python bench/gaps.py RUN [RUN ...] --examples 500 --k 5000 --json gaps.json
    OMP_NUM_THREADS=1 python bench/gaps.py RUN --examples 500 --k 2000 --flow planar:16
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from vaelab.evaluation.evaluate_model import held_out_examples
from vaelab.evaluation.gaps import gap_lines, inference_gaps
from vaelab.kinds import load_run


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    parser.add_argument("--examples", type=int, default=500, help="test images")
    parser.add_argument("--k", type=int, default=5000, help="importance samples for log p(x)")
    parser.add_argument("--steps", type=int, default=500, help="Adam steps per image for q*")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam's rate (cosine to 1 %)")
    parser.add_argument("--samples", type=int, default=16, help="draws per step")
    parser.add_argument("--flow", help="also fit this flow per image (planar:K): L[q*_flow]")
    parser.add_argument("--data-dir", help="where the runs' data are now, when they moved")
    parser.add_argument("--json", type=Path, help="also write the results")
    args = parser.parse_args(argv)
    results = {}
    for run in args.runs:
        torch.manual_seed(0)
        model, _, splits = load_run(run, data_dir=args.data_dir)
        x = held_out_examples(model, splits.test, args.examples, torch.device("cpu"))
        started = time.perf_counter()
        gaps = inference_gaps(model, x, k=args.k, steps=args.steps, lr=args.lr, samples=args.samples,
                              flow=args.flow)
        print(f"{run} ({time.perf_counter() - started:.0f} s, {torch.get_num_threads()} thread(s))")
        print("\n".join(gap_lines(gaps)), flush=True)
        results[str(run)] = gaps
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
