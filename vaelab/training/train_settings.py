"""The training settings every kind shares, each declared once with its range and help text.

Every kind's `[train]` section is a `TrainSettings` plus the kind's own fields (`TrainConfig` of
the VAE family and the semi-supervised kind, `SequenceTrainConfig` of state-space models); a kind
that starts elsewhere redeclares a field's default (or narrows its range) in one line, the
constraint declared here still applying. The `vaelab train` flags, their help and the config
keys all come from these declarations (vaelab.settings, vaelab.kinds.flags): adding a training
setting is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from vaelab import components
from vaelab.choices import PRECISIONS
from vaelab.settings import Help, Matches, OneOf, Range, Registered, check
from vaelab.training.config_files import MAX_EPOCHS

#: the section of a run's config that holds these settings
SECTION: Final = "train"


@dataclass(frozen=True)
class TrainSettings:
    """How to train and how to evaluate at the end: the settings of every kind's `[train]`."""

    objective: Annotated[str, Registered(components.objectives), Help(
        "elbo or iwae; -stl / -dreg select lower-variance gradient estimators")] = "elbo"
    samples: Annotated[int, Range(1, 10_000), Help("samples per example (k for IWAE)")] = 1
    epochs: Annotated[int, Range(0, MAX_EPOCHS), Help(
        "passes over the training data; with a time budget and no --epochs (flag or config file) "
        "training runs until the budget is used up")] = 10
    batch_size: Annotated[int, Range(1, 65_536), Help(
        "examples per optimiser step (per process with --nproc)")] = 128
    learning_rate: Annotated[float, Range(0, 1, open_low=True), Help(
        "Adam learning rate", flag="lr")] = 1e-3
    final_lr_fraction: Annotated[float, Range(0, 1, open_low=True), Help(
        "the last learning rate of a cosine decay (--lr-schedule cosine; sequence models always "
        "decay) or the rate after the halfway cut (--lr-schedule step), as a fraction of --lr")] = 0.01
    kl_warmup_steps: Annotated[int, Range(0), Help(
        "steps of linear KL warm-up (0 = off)", flag="kl-warmup")] = 0
    weight_decay: Annotated[float, Range(0, 1, note="0 = plain Adam"), Help(
        "decoupled weight decay on every parameter (AdamW, Loshchilov & Hutter 2019): each step "
        "shrinks the weights by lr × this; a regulariser for long runs that overfit (0 = off)")] = 0.0
    ema_decay: Annotated[float, Range(0, 1, open_high=True, note="0 = off"), Help(
        "keep an exponential moving average of the weights at this decay (Polyak averaging; "
        "VDVAE: 0.9999): validation, the best weights, the evaluation and the model a run "
        "returns use the average; the checkpoint also keeps the raw weights (0 = off)",
        flag="ema", metavar="DECAY")] = 0.0
    grad_clip: Annotated[float, Range(0, note="0 = off"), Help("max gradient norm (0 = off)")] = 0.0
    grad_skip: Annotated[float, Range(0, note="0 = off"), Help(
        "skip an optimiser step whose gradient norm (before clipping) exceeds this, or whose "
        "loss or gradient is not finite (VDVAE; a non-finite loss counts as nonfinite_steps); "
        "after 50 such steps in a row the weights are set back to the epoch's start (recorded as "
        "rewinds; after 3 in one epoch the run stops with an error); the share skipped is "
        "recorded as skipped_update (0 = off; inf = skip non-finite steps only)")] = 0.0
    seed: Annotated[int, Help("seed of the initial weights, the shuffles and the labelled subset")] = 0
    device: Annotated[str, Matches(r"auto|cpu|cuda.*", "'auto', 'cpu' or 'cuda[:N]'"), Help(
        "auto, cpu or cuda[:N]")] = "auto"
    time_budget_minutes: Annotated[float, Range(0, note="0 = no limit"), Help(
        "stop after the epoch that uses up this much training time (0 = off); it counts training "
        "and each epoch's validation, not the final evaluation, which comes after it (--no-eval "
        "skips that); without --epochs the budget alone sets the length",
        flag="time-budget", aliases=("--minutes",), metavar="MINUTES")] = 0.0
    compile: Annotated[bool, Help(
        "compile the training step with torch.compile (first steps are slower)")] = False
    precision: Annotated[str, OneOf(PRECISIONS), Help(
        "train under bfloat16 autocast (for GPUs; evaluation stays float32)", flag="bf16",
        const="bf16")] = "fp32"
    eval_samples: Annotated[int, Range(1, 1_000_000), Help(
        "k for the final importance-sampled log p(x) (particles for sequence models)")] = 1000
    eval_examples: Annotated[int, Range(0, note="0 = the whole test split"), Help(
        "test images (sequences) evaluated at the end (0 = all)")] = 1000

    def __post_init__(self) -> None:
        check(self, SECTION)


__all__ = ["SECTION", "TrainSettings"]
