"""The commands shared by the kinds whose runs model single images (vae, semisupervised):
`vaelab reconstruct`, `vaelab report` and the explorer's page. Each kind module re-exports them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaelab import kinds
from vaelab.training.config_files import ConfigError


def report(args: argparse.Namespace) -> int:
    """`vaelab report RUN [RUN ...]` of image runs: one page (a comparison table for several)."""
    from vaelab.reports import write_report  # matplotlib and the sections load only when asked

    if args.examples < 0 or args.examples == 1:
        raise ConfigError(f"--examples must be 0 (all) or >= 2, got {args.examples}")
    refuse_mixed(args.runs, "report", report)
    path = write_report(args.runs, kinds.load_run, out=args.out, device=args.device, examples=args.examples,
                        seed=args.seed, progress=False if args.no_progress else None, data_dir=args.data_dir)
    print(f"wrote {path}")
    return 0


def refuse_mixed(runs: list[Path], command: str, implementation: Any) -> None:
    """ConfigError when some of `runs` belong to a kind whose `command` is another one: a page
    or a table holds runs of one family (image runs, sequence runs) only."""
    found = {run: kinds.kind_of_run(run) for run in runs}
    foreign = [(run, kind) for run, kind in found.items()
               if getattr(kind.module(), command, None) is not implementation]
    if foreign:
        run, kind = foreign[0]
        first = found[runs[0]]
        raise ConfigError(f"{run} is a run of kind {kind.name!r}, {runs[0]} of kind {first.name!r}: "
                          f"`vaelab {command}` them separately (one family of runs at a time)")


def reconstruct(args: argparse.Namespace) -> int:
    """`vaelab reconstruct RUN`: test images (or --images) beside E[x | z] at z = E_q[z | x]."""
    import torch

    from vaelab.evaluation.plots import save_image_grid
    from vaelab.evaluation.run import display, held_out_tensor

    if args.num < 1 or args.columns < 1:
        raise ConfigError(f"--num and --columns must be >= 1, got {args.num} and {args.columns}")
    load = kinds.kind_of_run(args.run).module().load
    model, _, splits = load(args.run, device=args.device, data=args.images is None, data_dir=args.data_dir)
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


def explore_session(run: Path, device: str = "cpu", data_dir: str | None = None) -> Any:
    """The explorer's session of an image run: latent sliders, samples, drawing, q(y | x)."""
    from vaelab.explore.session import ImageSession

    kind = kinds.kind_of_run(run)
    return ImageSession(run, kind.module().load, kind.name, device=device, data_dir=data_dir)


__all__ = ["explore_session", "reconstruct", "refuse_mixed", "report"]
