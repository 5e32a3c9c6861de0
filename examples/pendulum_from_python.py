"""The pendulum state-space model driven from Python: simulate, train, evaluate, predict.

The generative model is p(x_{1:T}, z_{1:T} | u) = Π_t p(z_t | z_{t-1}, u_t) p(x_t | z_t): a latent
state z_t = (cos θ, sin θ, ω) moved by a physics rule with learned constants (g/L, damping b,
input gain), and frames rendered from it by a network. The data come from vaelab's own
simulator of a pendulum driven by a random torque u(t).

    python examples/pendulum_from_python.py                   # ~4 min on 2 CPU cores
    python examples/pendulum_from_python.py --epochs 2 --sequences 16 --image-size 16   # seconds
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import vaelab
from vaelab.data.pendulum import generate_splits
from vaelab.evaluation.sequence_metrics import mean_frame, prediction_scores
from vaelab.models import SSMConfig, build_ssm


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--sequences", type=int, default=200, help="training sequences")
    parser.add_argument("--length", type=int, default=50, help="frames per training sequence")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None, help="run folder")
    args = parser.parse_args(argv)

    # 1. data: the simulator, with physical constants of our choosing
    truth = vaelab.PendulumConfig(gravity=9.81, length=1.0, damping=0.1, image_size=args.image_size,
                                  train_sequences=args.sequences, train_length=args.length,
                                  valid_sequences=max(4, args.sequences // 10), valid_length=args.length,
                                  test_sequences=max(4, args.sequences // 10), test_length=2 * args.length)
    splits = generate_splits(truth)
    train = splits["train"]
    print(f"simulated {len(train)} sequences of {train.length} frames {tuple(train.frame_shape)}")

    # 2. the model: the pendulum rule as the transition (try transition="generic" to compare)
    torch.manual_seed(0)
    model = build_ssm(SSMConfig(transition="pendulum"), train.frame_shape, train.dt, 1)

    # 3. training: the same loop as `vaelab train --model ssm`, on random windows of 25 frames; the
    #    rule's few constants learn 10x faster than the networks (your own optimizer's groups keep
    #    their ratios to `lr`)
    rule = {id(p) for p in model.dynamics.parameters()}
    optimizer = torch.optim.Adam([{"params": [p for p in model.parameters() if id(p) not in rule]},
                                  {"params": list(model.dynamics.parameters()), "lr": 2e-2}], lr=2e-3)
    run = vaelab.fit(model, train, valid=splits["valid"], epochs=args.epochs, batch_size=32,
                     optimizer=optimizer,
                     window=min(25, train.length), grad_clip=50.0,
                     run_dir=args.out or Path(tempfile.mkdtemp(prefix="vaelab-pendulum-")), progress=False)
    learned = model.physical_constants() or {}
    print(f"trained {len(run.history)} epochs in {run.history[-1]['seconds']:.0f} s -> {run.run_dir}")
    print(f"learned g/L {learned.get('g_over_L', float('nan')):.2f} (true "
          f"{truth.gravity / truth.length:.2f}), damping {learned.get('damping', float('nan')):.3f} "
          f"(true {truth.damping})")

    # 4. evidence: ELBO, IWAE and the particle filter on held-out sequences (nats per frame)
    evidence = vaelab.evaluate(model, splits["test"], k=50)
    print(f"test evidence per frame: ELBO {evidence['elbo_per_frame']['mean']:.2f}, "
          f"particle filter {evidence['smc_per_frame']['mean']:.2f} "
          f"± {evidence['smc_per_frame']['stderr']:.2f}")

    # 5. prediction: filter 10 frames, roll the rule forward, compare with the truth
    scores = prediction_scores(model, splits["test"], mean_frame(train), context=10)
    for name, score in scores.items():
        print(f"valid prediction time, {name:<10} {score['valid_prediction_time']:.3f}")
    return {"history": run.history, "constants": learned, "evidence": evidence, "prediction": scores}


if __name__ == "__main__":
    main()
