"""`vaelab report` and `vaelab reconstruct`, and the wiring of `vaelab train --tensorboard`."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from vaelab.cli.common import add_command, add_data_dir, add_device, add_run, on_the_runs_kind


def add_report(sub: Any) -> None:
    p = add_command(
        sub, "report", "write an HTML report of one or more trained runs", textwrap.fill(
            "Write one self-contained HTML page about trained runs (images inlined, no network "
            "needed: open it from disk in any browser). It shows the config, data, wall time, "
            "test ELBO and log p(x) in nats (bits/dim for 8-bit data), KL per latent dimension "
            "and active units, training curves, samples, reconstructions, interpolations, "
            "latent traversals, the latent space (PCA beyond 2 dimensions; the decoded manifold "
            "for 2) and, after `vaelab evaluate --compare-estimators`, the estimator "
            "comparison. Given several runs, the page starts with a table comparing them and "
            "their validation curves.", 78) + "\n\n" + textwrap.fill(
            "Sequence runs (`vaelab train --model ssm`, the pendulum) get a page of their own: "
            "the hypothesis each run encodes (transition rule, input, guide), its data and its "
            "learned physical constants beside the simulator's, and causal checks: torques the "
            "data never showed, do(u), imposed on the model and on the simulator from the same "
            "true state (valid prediction time, pixel MSE, frame strips). Given several sequence "
            "runs of the same data, the page starts with their evidence on identical test "
            "sequences (ELBO, IWAE_k, SMC_k; paired gaps) and their valid prediction times "
            "under each torque. Image and sequence runs do not mix on one page.", 78),
        epilog="examples:\n  vaelab report runs/mnist-20261125-101500\n"
               "  vaelab report runs/a runs/b --out comparison.html\n"
               "  vaelab report runs/pendulum runs/pendulum-no-input --torque constant:5 --torque none",
        laid_out=True)
    add_run(p, "run folder written by `vaelab train` (several: one comparison page)", several=True)
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="HTML file (or folder) to write (default: FIRST_RUN/report.html)")
    p.add_argument("--examples", type=int, default=1000,
                   help="image runs: test images used for latent statistics and pictures (0 = all; "
                        "default: 1000)")
    p.add_argument("--sequences", type=int, default=100, metavar="N",
                   help="sequence runs: test sequences for the interventions and the evidence (0 = all; "
                        "default: 100)")
    p.add_argument("-k", "--samples", type=int, default=100, dest="k",
                   help="sequence runs, several: importance samples and particles per sequence for the "
                        "evidence (default: 100)")
    p.add_argument("--torque", action="append", metavar="SPEC",
                   help="sequence runs: a torque to impose, do(u), for 90 steps after 10 context frames "
                        "(repeatable): constant:V, sine:A,F (A rad/s², F Hz), none, or a file "
                        "(.npy/.txt/.csv) of 90 values (default: constant:5 and sine:4,0.5)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for samples and, for sequence runs, for the evidence's samples and "
                        "particles (default: 0)")
    add_device(p, "cpu")
    add_data_dir(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=on_the_runs_kind("report"))


def add_reconstruct(sub: Any) -> None:
    """Encode the first N test images of a run (or your own images, --images) and decode them again:
    writes a PNG grid in which each image is followed, to its right, by E[x | z] at its posterior
    mean z = E_q[z | x]. With --images the run folder alone is enough (no dataset needed)."""
    p = add_command(sub, "reconstruct", "write a PNG of images beside their reconstructions",
                    add_reconstruct.__doc__,
                    epilog="examples:\n"
                           "  vaelab reconstruct runs/mnist-20261125-101500 -n 16 --out recon.png\n"
                           "  vaelab reconstruct RUN --images my_digits/ --out mine.png", laid_out=True)
    p.add_argument("--images", type=Path, nargs="+", metavar="PATH",
                   help="image files, folders or .npy/.npz arrays to reconstruct instead of test images")
    add_run(p)
    p.add_argument("-n", "--num", type=int, default=32, metavar="N",
                   help="number of test images (default: 32)")
    p.add_argument("--columns", type=int, default=16,
                   help="images per grid row; an input and its reconstruction count as two "
                        "(default: 16)")
    p.add_argument("--out", type=Path, metavar="PNG",
                   help="where to write the PNG (default: RUN/reconstructions-N.png)")
    add_device(p)
    add_data_dir(p)
    p.set_defaults(handler=on_the_runs_kind("reconstruct"))

