"""`vaelab report` and `vaelab reconstruct`, and the wiring of `vaelab train --tensorboard`."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from vaelab import kinds
from vaelab.cli.common import RawDescriptionHelpFormatter, add_data_dir
from vaelab.training.config import ConfigError


def add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="write an HTML report of one or more trained runs",
        description=textwrap.fill(
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
        formatter_class=RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="run folder written by `vaelab train` (several: one comparison page)")
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
    p.add_argument("--device", default="cpu", help="cpu, auto or cuda[:N] (default: cpu)")
    add_data_dir(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from vaelab.reports import write_report  # matplotlib and the sections load only when asked

    if args.examples < 0 or args.examples == 1:
        raise ConfigError(f"--examples must be 0 (all) or >= 2, got {args.examples}")
    found = {run: kinds.kind_of_run(run).name for run in args.runs if (run / "config.json").is_file()}
    sequence_runs = [run for run, kind in found.items() if kind == "ssm"]
    image_runs = [run for run, kind in found.items() if kind != "ssm"]
    if sequence_runs and image_runs:
        raise ConfigError(f"{sequence_runs[0]} is a sequence run and {image_runs[0]} is not: report image "
                          "runs and sequence runs on separate pages")
    if sequence_runs:
        return _sequence_report(args, sequence_runs[0])
    path = write_report(args.runs, out=args.out, device=args.device, examples=args.examples,
                        seed=args.seed, progress=False if args.no_progress else None, data_dir=args.data_dir)
    print(f"wrote {path}")
    return 0


def _sequence_report(args: argparse.Namespace, first: Path) -> int:
    """`vaelab report` of sequence runs: their hypotheses, constants and causal checks (`first`: a
    sequence run whose dt reads the torque specs)."""
    from vaelab.evaluation.interventions import STANDARD_INTERVENTIONS, load_torque
    from vaelab.kinds.ssm_experiment import SequenceExperiment
    from vaelab.kinds.ssm_training import load_sequence_run
    from vaelab.reports.sequence_report import HORIZON, write_sequence_report

    if args.sequences < 0:
        raise ConfigError(f"--sequences must be >= 0 (0 = all), got {args.sequences}")
    if args.k < 1:
        raise ConfigError(f"-k must be >= 1, got {args.k}")
    torques = tuple(args.torque) if args.torque else STANDARD_INTERVENTIONS
    dt = SequenceExperiment.load(first / "config.json").data.pendulum.dt
    for spec in torques:
        try:
            load_torque(spec, HORIZON, dt)
        except ValueError as error:
            raise ConfigError(f"--torque: {error}") from error
    path = write_sequence_report(args.runs, load_sequence_run, out=args.out, device=args.device,
                                 sequences=args.sequences or None, k=args.k, torques=torques, seed=args.seed,
                                 progress=False if args.no_progress else None, data_dir=args.data_dir)
    print(f"wrote {path}")
    return 0


def add_reconstruct(sub: Any) -> None:
    p = sub.add_parser(
        "reconstruct", help="write a PNG of images beside their reconstructions",
        description="Encode the first N test images of a run (or your own images, --images) and "
                    "decode them again: writes a PNG grid in which each image is followed, to its "
                    "right, by E[x | z] at its posterior mean z = E_q[z | x]. With --images the run "
                    "folder alone is enough (no dataset needed).",
        epilog="examples:\n  vaelab reconstruct runs/mnist-20261125-101500 -n 16 --out recon.png\n"
               "  vaelab reconstruct RUN --images my_digits/ --out mine.png",
        formatter_class=RawDescriptionHelpFormatter,
    )
    p.add_argument("--images", type=Path, nargs="+", metavar="PATH",
                   help="image files, folders or .npy/.npz arrays to reconstruct instead of test images")
    p.add_argument("run", type=Path, metavar="RUN", help="run folder written by `vaelab train`")
    p.add_argument("-n", "--num", type=int, default=32, metavar="N",
                   help="number of test images (default: 32)")
    p.add_argument("--columns", type=int, default=16,
                   help="images per grid row; an input and its reconstruction count as two "
                        "(default: 16)")
    p.add_argument("--out", type=Path, metavar="PNG",
                   help="where to write the PNG (default: RUN/reconstructions-N.png)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    add_data_dir(p)
    p.set_defaults(handler=run_reconstruct)


def run_reconstruct(args: argparse.Namespace) -> int:
    import torch

    from vaelab.evaluation.plots import save_image_grid
    from vaelab.evaluation.run import display, held_out_tensor
    from vaelab.kinds import kind_of_run
    from vaelab.training.experiment import load_trained_model

    if args.num < 1 or args.columns < 1:
        raise ConfigError(f"--num and --columns must be >= 1, got {args.num} and {args.columns}")
    kind_of_run(args.run)  # a run no kind reads (e.g. vaelab.fit's) is explained, not misread
    model, _, splits = load_trained_model(args.run, device=args.device, data=args.images is None,
                                          data_dir=args.data_dir)
    device = next(model.parameters()).device
    if args.images is not None:
        from vaelab.data.user_images import read_images
        from vaelab.evaluation.classification import model_space

        images, _, binary = read_images(args.images, None)
        if tuple(images.shape[1:]) != tuple(model.data_shape):
            raise ConfigError(f"the images are {tuple(images.shape[1:])} (C, H, W) but the run was "
                              f"trained on {tuple(model.data_shape)}")
        x = model_space(model, images[:args.num], binary).to(device)
    else:
        assert splits is not None
        if args.num > len(splits.test):
            raise ConfigError(f"--num {args.num}: the test split has only {len(splits.test)} images")
        x = held_out_tensor(model, splits, args.num, device)
    pairs = torch.stack([display(model, x), display(model, model.reconstruct(x))], 1)
    out = args.out or args.run / f"reconstructions-{args.num}.png"
    save_image_grid(pairs.flatten(0, 1).cpu(), out, columns=args.columns)
    print(f"wrote {out}")
    return 0
