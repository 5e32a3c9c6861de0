"""The commands only sequence models have: simulate, predict, compare.

`vaelab simulate pendulum --out DIR` writes the dataset; `vaelab predict RUN` filters context
frames and rolls the model forward; `vaelab compare RUN_A RUN_B ...` prints the evidence table.
Training, evaluating and sampling a sequence run go through the common commands and the ssm kind
(vaelab/kinds/ssm.py).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

from vaelab.cli.common import add_command, add_data_dir, add_device, add_run, on_the_runs_kind
from vaelab.data.pendulum_config import PENDULUM, PendulumConfig, parse_setting
from vaelab.settings import declared


def add_simulate(sub: Any) -> None:
    """Simulate θ̈ = −(g/L) sin θ − b θ̇ + u(t) with RK4, render 32×32 anti-aliased frames, and write
    every split (uint8 frames, actions u, true states θ, ω, masks) with the parameters to
    DIR/pendulum.npz, plus DIR/preview.png."""
    p = add_command(sub, "simulate", "simulate a dataset of image sequences (the pendulum)",
                    add_simulate.__doc__)
    p.add_argument("system", choices=(PENDULUM,), help="what to simulate")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    defaults = PendulumConfig()
    for name, setting in declared(PendulumConfig).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=partial(_setting, name),
                       default=getattr(defaults, name), metavar=setting.hint.__name__.upper(),
                       help=setting.help.text if setting.help else name)
    p.set_defaults(handler=run_simulate)


def _setting(key: str, text: str) -> Any:
    try:
        return parse_setting(key, text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def run_simulate(args: argparse.Namespace) -> int:
    from vaelab.data.pendulum import generate_splits, save_splits
    from vaelab.evaluation.sequence_plots import save_strips

    config = PendulumConfig(**{f.name: getattr(args, f.name) for f in fields(PendulumConfig)})
    started = time.perf_counter()
    total = sum(getattr(config, f"{split}_sequences") for split in ("train", "valid", "test"))
    print(f"simulating {total:,} pendulum sequences (train, valid, test) -> {args.out} ...", flush=True)
    splits = generate_splits(config)
    args.out.mkdir(parents=True, exist_ok=True)
    path = save_splits(args.out / f"{PENDULUM}.npz", splits, config)
    train = splits["train"]
    count = min(8, len(train))
    frames = train.frames[:count, : min(25, train.length)].float() / 255.0
    preview = save_strips(list(frames), args.out / "preview.png")
    for name, data in splits.items():
        print(f"{name}: {len(data)} sequences × {data.length} frames of {data.frame_shape}")
    print(f"simulated in {time.perf_counter() - started:.1f} s\nwrote {path}\nwrote {preview}")
    return 0


def add_predict(sub: Any) -> None:
    """Filter the first --context frames of test sequences, roll the transition's mean forward for
    --horizon steps under the observed actions, and compare with the truth: valid prediction time
    (share of the horizon before the per-frame MSE first exceeds 0.01) beside the copy-last-frame
    and mean-frame baselines. Writes a PNG of frame strips and an animated GIF (truth,
    prediction)."""
    p = add_command(sub, "predict", "filter context frames, then roll a sequence model forward",
                    add_predict.__doc__)
    add_run(p, "run folder written by `vaelab train --model ssm`")
    p.add_argument("--context", type=int, default=10, help="frames filtered before predicting")
    p.add_argument("--horizon", type=int, default=90, help="frames predicted")
    p.add_argument("--sequences", type=int, default=6, help="test sequences drawn in the pictures")
    p.add_argument("--torque", metavar="SPEC",
                   help="impose a torque instead of the recorded one, do(u): constant:V, sine:A,F "
                        "(A rad/s², F Hz), none, or a file (.npy/.txt/.csv) of --horizon values; the "
                        "model's rollout is compared with the simulator's from the true state under "
                        "the same torque")
    p.add_argument("--out", type=Path, help="output folder (default RUN)")
    add_device(p, "cpu")
    add_data_dir(p, sequences=True)
    p.set_defaults(handler=on_the_runs_kind("predict"))


def add_compare(sub: Any) -> None:
    """Estimate each model's evidence on the same held-out sequences: the sequential ELBO and the
    IWAE bound with k samples over whole sequences, in nats per frame, with standard errors and
    the paired difference to the best model. Runs must share their test data."""
    p = add_command(sub, "compare", "compare sequence models by estimated evidence log p(x)",
                    add_compare.__doc__)
    add_run(p, "two or more sequence-model runs", several=True)
    p.add_argument("-k", "--samples", type=int, default=100,
                   help="importance samples (ELBO, IWAE) and particles (SMC) per sequence")
    p.add_argument("--sequences", type=int, default=100, help="test sequences (0 = all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the importance samples and particles")
    p.add_argument("--json", type=Path, help="also write the table as JSON")
    add_device(p, "cpu")
    add_data_dir(p, sequences=True)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=on_the_runs_kind("compare"))

