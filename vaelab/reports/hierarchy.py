"""Report section: a hierarchy's latent groups — how much each is used (KL and active units per
group, the posterior-collapse diagnostics of the last epoch), samples at several temperatures and
reconstructions from each depth (for models that offer them, e.g. `--model deep`)."""

from __future__ import annotations

import inspect
import re

import torch

from vaelab.evaluation.run import display
from vaelab.reports.blocks import Block, Figure, Section, Table, Text
from vaelab.reports.context import RunContext
from vaelab.reports.figures import labelled_grid_png
from vaelab.reports.sections import register_section

TEMPERATURES = (0.0, 0.5, 0.8, 1.0)
PER_ROW = 10
DEPTH_IMAGES = 8


def group_table(record: dict) -> Table | None:
    """KL (nats, training mean of the epoch) and active units of each latent group."""
    groups = sorted({int(m.group(1)) for key in record
                     if (m := re.fullmatch(r"(?:train_kl_z|active_z)(\d+)", key))})
    if len(groups) < 2:
        return None
    rows = tuple((f"z{g}" + (" (next to the data)" if g == 1 else " (top)" if g == groups[-1] else ""),
                  _number(record.get(f"train_kl_z{g}")), _number(record.get(f"active_z{g}")))
                 for g in groups)
    return Table(("group", "KL (nats)", "active units"), rows,
                 f"Epoch {record.get('epoch', '?')}. Active units: dimensions whose posterior mean "
                 "varies across held-out images (variance > 0.01). A group with KL ≈ 0 has collapsed: "
                 "the model does not use it (its mean may still move with the groups above it).")


def _number(value: object) -> str:
    return "—" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


@torch.no_grad()
def temperature_figure(run: RunContext) -> Figure | None:
    """Rows of samples drawn with every group's prior σ scaled by t."""
    prior_sample = run.model.prior_sample
    if not run.images or "temperature" not in inspect.signature(prior_sample).parameters:
        return None
    rows = []
    for t in TEMPERATURES:
        with torch.random.fork_rng(devices=[]):  # the report draws nothing from the global stream
            torch.manual_seed(run.seed)
            rows.append(display(run.model, run.model.decode_mean(prior_sample((PER_ROW,), temperature=t))))
    images = torch.stack(rows).flatten(0, 1).cpu()
    png = labelled_grid_png(images, PER_ROW, len(TEMPERATURES), [""] * PER_ROW,
                            "rows: t = " + ", ".join(f"{t:g}" for t in TEMPERATURES))
    return Figure(png, "samples at several temperatures",
                  "Each row draws every group from its prior with σ scaled by t (top row t = 0: the "
                  "prior means); lower temperatures trade variety for cleaner images (NVAE, VDVAE).",
                  pixelated=True)


@torch.no_grad()
def depth_figure(run: RunContext) -> Figure | None:
    """Test images reconstructed keeping the guide's top k groups, the rest at prior means."""
    keep = getattr(run.model, "reconstruct_from_depth", None)
    if keep is None or not run.images or run.x_test.shape[0] == 0:
        return None
    x = run.x_test[:DEPTH_IMAGES]
    depth = len(run.model.latent_shapes)
    columns = [display(run.model, x)] + [display(run.model, keep(x, k)) for k in range(depth, -1, -1)]
    images = torch.stack(columns, 1).flatten(0, 1).cpu()
    labels = ["x", *[f"top {k}" for k in range(depth, -1, -1)]]
    png = labelled_grid_png(images, depth + 2, x.shape[0], labels,
                            "x: test image; top k: the guide's top k groups, the rest at their prior means")
    return Figure(png, "reconstructions from each depth",
                  "What each depth of the hierarchy holds: the top groups carry the coarse shape, "
                  "the groups near the data the detail.", pixelated=True)


@register_section(order=35)
def latent_groups(run: RunContext) -> Section | None:
    """Per-group use, temperatures and depths of a hierarchy."""
    last = run.records[-1] if run.records else {}
    blocks: list[Block] = [b for b in (group_table(last), temperature_figure(run), depth_figure(run))
                           if b is not None]
    if not blocks:
        return None
    if any(isinstance(b, Table) for b in blocks):
        blocks.append(Text("Collapse is watched each epoch (`active_z*`, `train_kl_z*` in metrics.jsonl); "
                           "free bits per group (--free-bits) and KL balancing during warm-up "
                           "(--kl-warmup with --kl-balance) keep groups in use."))
    return Section("latent-groups", "Latent groups", tuple(blocks))
