"""How tight is the BDMC bracket on a trained run, and where does importance sampling fall in it?

Bidirectional Monte Carlo (`vaelab.bdmc`) on N examples simulated from the run's model: for each
number of annealing steps, the forward-AIS lower bound, the reverse-AIS upper bound and their width;
then the importance-sampled log p(x) of the same examples for each k in --ks, placed in every
bracket (a table of k against T: where IS enters the bracket as k grows). Prints markdown tables
(bench/README.md records them) and writes the JSON. `--bracket JSON` reuses the bounds of an
earlier run of this script on the same run folder (same examples and seed) instead of running
AIS again; the k = --ks[0] estimate is then recomputed as before, which checks that the examples
are the same.

    python -m vaelab demo --out /tmp/demo-run
    python bench/bdmc.py /tmp/demo-run --examples 50 --steps 10,100,300,1000,3000 --ks 1000,5000
    python bench/bdmc.py /tmp/demo-run --bracket bench/results/bdmc-demo.json --ks 1000,50000,200000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import vaelab
from vaelab.evaluation.bdmc import place
from vaelab.evaluation.trust import pareto_summary, trust_text
from vaelab.objectives.bdmc import simulate
from vaelab.objectives.marginal import importance_sampled_log_marginal
from vaelab.objectives.result import Estimate


def integers(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (e.g. from `vaelab demo --out RUN`)")
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--steps", type=integers, default=(10, 100, 300, 1000, 3000))
    parser.add_argument("--chains", type=int, default=1)
    parser.add_argument("--ks", type=integers, default=(1000, 5000))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bracket", type=Path, help="reuse the bounds of this earlier JSON output")
    parser.add_argument("--out", type=Path, default=Path("bench/results/bdmc.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = vaelab.load(args.run)
    started = time.perf_counter()
    if args.bracket is not None:
        result = json.loads(args.bracket.read_text())["bdmc"]
        args.examples, args.seed, args.chains = result["examples"], result["seed"], result["chains"]
    else:
        result = vaelab.bdmc(model, args.examples, args.steps, chains=args.chains,
                             is_samples=args.ks[0], seed=args.seed, log=print)
    tightest = result["rows"][-1]
    torch.manual_seed(args.seed)  # the same simulated examples as vaelab.bdmc drew
    x, _ = simulate(model, args.examples)
    importance = []
    for k in args.ks:
        k_started = time.perf_counter()
        with torch.no_grad():
            estimate = importance_sampled_log_marginal(model, x, k)
        importance.append({"k": k, "log_px_is": Estimate.of(estimate.log_px).as_dict(),
                           "pareto_k": pareto_summary(estimate.pareto_k, k),
                           **place(estimate.log_px, tightest),
                           "rows": {row["steps"]: place(estimate.log_px, row) for row in result["rows"]},
                           "per_example": estimate.log_px.double().cpu().tolist(),
                           "seconds": time.perf_counter() - k_started})
        print(f"IS k = {k}: {Estimate.of(estimate.log_px)} ({importance[-1]['seconds']:.0f} s)", flush=True)
    print(f"\nBDMC on {args.examples} examples simulated from {args.run} ({args.chains} chain(s) each "
          f"way, {result['leapfrog_steps']} leapfrog steps), seed {args.seed}; "
          f"{time.perf_counter() - started:.0f} s, {args.threads} thread(s)\n")
    print("| annealing steps | lower (forward AIS) | upper (reverse AIS) | width | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for row in result["rows"]:
        print(f"| {row['steps']} | {Estimate(**row['lower'])} | {Estimate(**row['upper'])} | "
              f"**{Estimate(**row['width'])}** | {row['seconds']:.0f} |")
    print(f"\n| IS, k | log p(x) | in the {tightest['steps']}-step bracket | Pareto k̂ |")
    print("| ---: | ---: | --- | --- |")
    for entry in importance:
        print(f"| {entry['k']} | {Estimate(**entry['log_px_is'])} | {entry['is_position']} | "
              f"{trust_text(entry['pareto_k'])} |")
    steps = [row["steps"] for row in result["rows"]]
    print("\n| IS, k | " + " | ".join(f"T = {t}" for t in steps) + " |")
    print("| ---: |" + " --- |" * len(steps))
    for entry in importance:
        print(f"| {entry['k']} | " + " | ".join(entry["rows"][t]["is_position"] for t in steps) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": str(args.run), "bdmc": result, "importance": importance},
                                   indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
