"""The HTML report of sequence (pendulum) runs: the hypothesis each run encodes, and its causal checks.

Per run: the transition rule, the input hypothesis, the data and the learned physical constants
beside the simulator's; then do(u) — torques the training data never showed, imposed on the model
and on the simulator from the same true state — as valid prediction times, frame strips and
pixel-error curves. Given several runs, a first part compares the hypotheses by estimated
evidence on identical test sequences and by how well each predicts the interventions. The page
is built from the same blocks, and rendered by the same `render_page`, as the image report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import torch

from vaelab import __version__
from vaelab.atomic_files import atomic_write_text
from vaelab.data.pendulum import SequenceSet
from vaelab.data.pendulum_config import PendulumConfig
from vaelab.evaluation.interventions import STANDARD_INTERVENTIONS, InterventionResult, intervene, load_torque
from vaelab.evaluation.progress import progress_bar
from vaelab.evaluation.sequence_metrics import MSE_THRESHOLD, EvidenceRow, evidence_table, sequence_evidence
from vaelab.models.ssm import StateSpaceModel
from vaelab.objectives.result import Estimate
from vaelab.reports.blocks import Block, Figure, Section, Table, Text
from vaelab.reports.figures import figure_png, grid_png, new_figure, report_style
from vaelab.reports.numbers import DASH
from vaelab.reports.page import Part, render_page
from vaelab.reports.report import report_target
from vaelab.runs.length import until_budget
from vaelab.runs.loader import RunLoader
from vaelab.runs.metrics_log import read_metrics

if TYPE_CHECKING:  # the sequence kind's config, for annotations only (kinds sit above this layer)
    from vaelab.kinds.ssm_experiment import SequenceExperiment

#: frames filtered before a torque is imposed, and the steps it is imposed for
CONTEXT: Final = 10
HORIZON: Final = 90
#: the steps whose pixel MSE the intervention table shows
MSE_STEPS: Final = (1, 30, 60, 90)
#: test sequences drawn in each strip, and every how many predicted frames one is drawn
STRIP_SEQUENCES: Final = 3
STRIP_EVERY: Final = 3

#: what each input hypothesis (the `--input` of `vaelab train --model ssm`) says
INPUTS: Final = {
    "recorded": "the recorded torque drives the state",
    "placebo": "another sequence's torque drives the state (a placebo)",
    "none": "no input acts on the state",
}

CAUSAL_LIMITS: Final = (
    "What these checks can conclude: that a model in which the torque acts explains the frames "
    "better than one in which it does not (by evidence, comparing runs under the input hypotheses "
    "recorded, placebo and none with one observation model and one noise ceiling), and that it "
    "predicts what the pendulum does when pushed (by intervention). What they cannot: evidence "
    "compares only the hypotheses written down, on data from one regime; a confounder that moved "
    "both the torque and the pendulum would make the recorded torque look causal to the evidence "
    "test, while the intervention test, which sets the torque from outside, would not be fooled. "
    "Data simulated with torque_applied=false (the torque recorded but never applied) is the "
    "negative control: there the input hypothesis must not win."
)


@dataclass(frozen=True)
class SequenceRun:
    """A loaded sequence run: its folder, model, config, test split and per-epoch records."""

    run_dir: Path
    model: StateSpaceModel
    config: SequenceExperiment
    test: SequenceSet
    records: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return self.run_dir.resolve().name

    @property
    def label(self) -> str:
        """The run's name with its hypothesis: transition rule and input."""
        return f"{self.name} ({self.config.model.transition}, input {input_hypothesis(self.config)})"


@dataclass(frozen=True)
class InterventionCheck:
    """One imposed torque's outcome on one run: valid prediction time (mean ± standard error over
    sequences), mean pixel MSE per step [H] and the strip of frames (PNG)."""

    spec: str
    sequences: int
    valid_prediction_time: Estimate
    mse_per_step: np.ndarray
    strip: bytes


def input_hypothesis(config: SequenceExperiment) -> str:
    """Which torque the model says drives the state: "recorded", "placebo" or "none"."""
    return config.data.torque if config.model.driven else "none"


def load_run(run_dir: Path | str, load: RunLoader, device: str = "cpu",
             data_dir: str | None = None) -> SequenceRun:
    """A sequence run folder with its model, config and test split loaded (`data_dir`: the folder
    of the simulated data instead of the run's own; `load`: the sequence kind's loader)."""
    model, config, splits = load(run_dir, device=device, data_dir=data_dir)
    assert splits is not None
    return SequenceRun(Path(run_dir), model, config, splits["test"], read_metrics(Path(run_dir)))


def changed_settings(pendulum: PendulumConfig) -> dict[str, Any]:
    """The simulation settings that differ from the defaults."""
    default = PendulumConfig()
    return {f.name: getattr(pendulum, f.name) for f in fields(PendulumConfig)
            if getattr(pendulum, f.name) != getattr(default, f.name)}


def check_same_data(runs: Sequence[SequenceRun]) -> None:
    """ValueError naming two runs simulated differently: their evidence would not be comparable."""
    first = runs[0]
    for run in runs[1:]:
        if run.config.data.pendulum != first.config.data.pendulum:
            ours, theirs = first.config.data.pendulum.to_dict(), run.config.data.pendulum.to_dict()
            differ = ", ".join(f"{key} {ours[key]} vs {theirs[key]}" for key in ours
                               if ours[key] != theirs[key])
            raise ValueError(f"{run.run_dir} was trained on different data than {first.run_dir} ({differ}); "
                             "evidence is only comparable on the same test sequences")


def row_labels(runs: Sequence[SequenceRun]) -> list[str]:
    """Each run's label, numbered when two runs would otherwise read the same."""
    labels = [run.label for run in runs]
    if len(set(labels)) < len(labels):
        return [f"{i + 1}. {label}" for i, label in enumerate(labels)]
    return labels


def _estimate_text(estimate: Estimate, digits: int = 3) -> str:
    if not math.isfinite(estimate.stderr):
        return f"{estimate.mean:.{digits}f}"
    return f"{estimate.mean:.{digits}f} ± {estimate.stderr:.{digits}f}"


# ---- interventions ------------------------------------------------------------------------------

def strip_png(result: InterventionResult) -> bytes:
    """Simulator and model rows, alternating, for the first test sequences: every STRIP_EVERY-th
    frame of the imposed steps."""
    shown = min(STRIP_SEQUENCES, result.model_frames.shape[0])
    rows = [frames[i, STRIP_EVERY - 1::STRIP_EVERY] for i in range(shown)
            for frames in (result.truth_frames, result.model_frames)]
    return grid_png(torch.cat(rows), columns=rows[0].shape[0])


def check_intervention(run: SequenceRun, spec: str, torque: np.ndarray,
                       sequences: int | None) -> InterventionCheck:
    """do(u = torque) on the first `sequences` test sequences (None = all) of one run."""
    result = intervene(run.model, run.test, run.config.data.pendulum, torque, CONTEXT,
                       sequences=slice(0, sequences))
    return InterventionCheck(spec, int(result.model_frames.shape[0]),
                             Estimate.of(result.valid_prediction_time),
                             result.mse.mean(0).double().numpy(), strip_png(result))


def mse_figure(checks: Sequence[InterventionCheck], dt: float) -> bytes:
    """Mean pixel MSE per step, one line per imposed torque, on a log scale, with the threshold
    that ends the valid prediction time."""
    with report_style():
        fig, axes = new_figure(3.8)
        ax = axes[0, 0]
        for check in checks:
            steps = np.arange(1, len(check.mse_per_step) + 1)
            ax.plot(steps, check.mse_per_step, label=f"do(u = {check.spec})")
        ax.axhline(MSE_THRESHOLD, color="0.3", linestyle="--", label=f"threshold {MSE_THRESHOLD}")
        ax.set_yscale("log")
        ax.set(xlabel=f"steps under the imposed torque (dt = {dt} s)", ylabel="mean pixel MSE",
               title="Model against simulator under imposed torques (lower is better)")
        ax.grid(alpha=0.3)
        ax.legend()
        return figure_png(fig)


def intervention_table(checks: Sequence[InterventionCheck]) -> Table:
    steps = [t for t in MSE_STEPS if t <= HORIZON]
    rows = tuple((c.spec, _estimate_text(c.valid_prediction_time),
                  *(f"{c.mse_per_step[t - 1]:.4f}" for t in steps)) for c in checks)
    return Table(("torque", "valid prediction time", *(f"MSE at step {t}" for t in steps)), rows,
                 caption=f"do(u) on {checks[0].sequences} test sequences; valid prediction time is a "
                         f"share of the {HORIZON} steps (higher is better), MSE the mean pixel MSE")


def causal_section(run: SequenceRun, checks: Sequence[InterventionCheck], limits: bool = True) -> Section:
    """The interventions' table, strips and error curves, and (`limits`) what the checks can and
    cannot conclude; a page comparing several runs says that once, in its comparison."""
    pendulum = run.config.data.pendulum
    intro = (f"do(u): for each of the first {checks[0].sequences} test sequences the guide filters frames "
             f"1–{CONTEXT}; then a torque is imposed for {HORIZON} steps ({HORIZON * pendulum.dt:g} s). "
             "The model rolls its transition's mean forward under it, and the simulator runs from the "
             f"true state at frame {CONTEXT} under the same torque. Training torques stay within "
             f"±{pendulum.max_torque:g} rad/s²: constant:V holds V rad/s² throughout, sine:A,F is "
             "A·sin(2πFt) rad/s². Valid prediction time: the share of the steps before the pixel MSE "
             f"between the model's frame and the simulator's first exceeds {MSE_THRESHOLD} (mean ± "
             "standard error over sequences).")
    if not run.config.model.driven:
        intro += (" This run's hypothesis has no input: its rollout ignores the torque, so it can match "
                  "the simulator only where the torque does not matter.")
    if not pendulum.torque_applied:
        intro += (" This run's data never applied the recorded torque (torque_applied=false): in that "
                  "world the imposed torque does not reach the pendulum either, so the simulator's "
                  "frames are the unforced motion and a model that learned no input effect matches them.")
    blocks: list[Block] = [Text(intro), intervention_table(checks)]
    shown = min(STRIP_SEQUENCES, checks[0].sequences)
    for check in checks:
        blocks.append(Figure(
            check.strip, f"frames under do(u = {check.spec})",
            f"do(u = {check.spec}): rows in pairs, simulator then model, for test sequences 1–{shown}; "
            f"one in {STRIP_EVERY} of the {HORIZON} imposed steps ({STRIP_EVERY * pendulum.dt:g} s apart).",
            pixelated=True))
    blocks.append(Figure(mse_figure(checks, pendulum.dt), "pixel MSE per step under each imposed torque",
                         "Mean pixel MSE per step between the model's frames and the simulator's; the "
                         "valid prediction time ends where a sequence first crosses the dashed line."))
    blocks.append(Text(CAUSAL_LIMITS if limits else
                       "What these checks can and cannot conclude: see Causal checks in the comparison."))
    return Section("causal", "Causal checks", tuple(blocks))


# ---- the run ------------------------------------------------------------------------------------

def true_constants(pendulum: PendulumConfig) -> dict[str, float]:
    """The simulator's g/L, damping b and input gain (1 when the torque is applied, else 0)."""
    return {"g_over_L": pendulum.gravity / pendulum.length, "damping": pendulum.damping,
            "input_gain": 1.0 if pendulum.torque_applied else 0.0}


CONSTANT_NAMES: Final = {"g_over_L": "g/L (1/s²)", "damping": "damping b (1/s)", "input_gain": "input gain"}


def learned_constant_texts(run: SequenceRun) -> dict[str, str] | None:
    """The learned constants as the report shows them; None for a rule without any."""
    learned = run.model.physical_constants()
    if learned is None:
        return None
    texts = {key: f"{learned[key]:.3f}" for key in CONSTANT_NAMES}
    if run.config.model.transition == "undamped":
        texts["damping"] = "0 (undamped rule)"
    if not run.config.model.driven:
        texts["input_gain"] = f"{DASH} (no input)"
    return texts


def constants_block(run: SequenceRun) -> Block:
    learned = learned_constant_texts(run)
    if learned is None:
        return Text(f"The {run.config.model.transition} transition has no physical constants to read "
                    "off (`vaelab evaluate` regresses them from the probed states instead).")
    truth = true_constants(run.config.data.pendulum)
    rows = tuple((name, learned[key], f"{truth[key]:.3f}") for key, name in CONSTANT_NAMES.items())
    return Table(("constant", "learned", "simulator"), rows,
                 caption="The transition's constants beside the simulator's: g/L = gravity / length; input "
                         "gain 1 when the recorded torque drives the pendulum, 0 for data simulated with "
                         "torque_applied=false")


def run_section(run: SequenceRun) -> Section:
    """The hypothesis (rule, input, guide), the data, the training length and the constants."""
    config, test = run.config, run.test
    hypothesis = input_hypothesis(config)
    changed = changed_settings(config.data.pendulum)
    data = ("pendulum, default settings" if not changed else
            "pendulum; " + ", ".join(f"{key}={value}" for key, value in changed.items()))
    epochs = str(len(run.records))
    if until_budget(config.train.epochs):
        epochs += f" (until the {config.train.time_budget_minutes:g}-min time budget)"
    elif len(run.records) != config.train.epochs:
        epochs += f" (the config asks for {config.train.epochs})"
    _, h, w = test.frame_shape
    rows = (
        ("transition (the rule)", config.model.transition),
        ("input", f"{hypothesis}: {INPUTS[hypothesis]} (model.driven = {str(config.model.driven).lower()}, "
                  f"data.torque = {config.data.torque})"),
        ("guide", config.model.resolved_guide()),
        ("data", data),
        ("test split", f"{len(test)} sequences × {test.length} frames of {h}×{w}"),
        ("epochs trained", epochs),
    )
    return Section("run", "Run", (Table(("setting", "value"), rows), constants_block(run)))


def run_part(run: SequenceRun, index: int, checks: Sequence[InterventionCheck], alone: bool = True) -> Part:
    """The run's sections; `alone` when the page shows no other run."""
    return Part(f"run{index + 1}", f"Run {index + 1}: {run.label}",
                (run_section(run), causal_section(run, checks, limits=alone)),
                subtitle=str(run.run_dir.resolve()))


# ---- several runs -------------------------------------------------------------------------------

def evidence_rows_table(rows: Sequence[EvidenceRow], k: int) -> Table:
    """The evidence of each run, best first, with the paired gap to the best."""
    cells = tuple((row.name, _estimate_text(row.elbo), _estimate_text(row.iwae), _estimate_text(row.smc),
                   "best" if i == 0 else _estimate_text(row.gap_to_best)) for i, row in enumerate(rows))
    return Table(("run (transition, input)", "ELBO/frame", f"IWAE_{k}/frame", f"SMC_{k}/frame",
                  "SMC gap to best (paired)"), cells,
                 caption=f"Estimated evidence on the same {rows[0].smc.n} test sequences, nats per frame "
                         "(higher is better), best first")


def constants_comparison(runs: Sequence[SequenceRun]) -> Table:
    rows = []
    for run, label in zip(runs, row_labels(runs), strict=True):
        learned = learned_constant_texts(run) or {}
        rows.append((label, *(learned.get(key, DASH) for key in CONSTANT_NAMES)))
    truth = true_constants(runs[0].config.data.pendulum)
    rows.append(("simulator", *(f"{truth[key]:.3f}" for key in CONSTANT_NAMES)))
    return Table(("run", *CONSTANT_NAMES.values()), tuple(rows),
                 caption="Learned physical constants (a dash: the rule has none)")


def comparison_part(runs: Sequence[SequenceRun], evidence: dict[str, dict[str, torch.Tensor]], k: int,
                    checks: Sequence[Sequence[InterventionCheck]]) -> Part:
    """Evidence on identical sequences, and valid prediction times under each imposed torque."""
    explained = Text(
        "Each run is a hypothesis about the pendulum: a transition rule and an input (the recorded "
        "torque, another sequence's, or none). The hypotheses are compared by their estimated evidence "
        "log p(x) on identical test sequences: the sequential ELBO, IWAE_k (k importance samples over "
        "whole sequences) and the particle filter's SMC_k (k particles; the tightest of the three), in "
        "nats per frame. The gap to the best is paired over sequences, so its standard error is that of "
        "the difference. Higher evidence says a hypothesis explains these frames better; the comparison "
        "tests the hypotheses and not the training only when the runs share the observation model, the "
        "training steps and the process-noise ceiling.")
    evidence_section = Section("evidence", "Evidence", (
        explained, evidence_rows_table(evidence_table(evidence), k), constants_comparison(runs)))
    specs = [c.spec for c in checks[0]]
    rows = tuple((label, *(_estimate_text(c.valid_prediction_time) for c in run_checks))
                 for label, run_checks in zip(row_labels(runs), checks, strict=True))
    vpt = Table(("run (transition, input)", *(f"do(u = {s})" for s in specs)), rows,
                caption=f"Valid prediction time under each imposed torque (share of {HORIZON} steps, "
                        "higher is better)")
    causal = Section("interventions", "Causal checks", (
        Text("Which hypothesis predicts what the pendulum does when a torque is imposed from outside: the "
             "valid prediction time of each run under each intervention (details in each run's part)."),
        vpt, Text(CAUSAL_LIMITS)))
    return Part("comparison", f"Comparison of {len(runs)} runs", (evidence_section, causal))


# ---- the page -----------------------------------------------------------------------------------

def write_sequence_report(
    run_dirs: Sequence[Path | str],
    load: RunLoader,
    out: Path | None = None,
    device: str = "cpu",
    sequences: int | None = 100,
    k: int = 100,
    torques: Sequence[str] = STANDARD_INTERVENTIONS,
    seed: int = 0,
    progress: bool | None = None,
    data_dir: str | None = None,
) -> Path:
    """Load each sequence run, impose each torque spec (see `load_torque`; a file must hold HORIZON
    values) on its first `sequences` test sequences (None = all), and with several runs estimate
    their evidence with `k` samples on those sequences; write one HTML page to RUN/report.html
    (the first run's) unless `out`, and return its path. A bar counts the steps (`progress`; None:
    only when stderr is a terminal). `data_dir`: the folder of the simulated data instead of each
    run's own. `load`: the sequence kind's loader (`vaelab.kinds.ssm.load`; see `vaelab.runs.loader`)."""
    if sequences is not None and sequences < 1:
        raise ValueError(f"sequences must be >= 1 (None = all), got {sequences}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not torques:
        raise ValueError("the causal checks need at least one torque to impose")
    paths, target = report_target(run_dirs, out)
    several = len(paths) > 1
    with progress_bar(len(paths) * (1 + len(torques) + int(several)), "report", progress, "steps") as advance:
        runs = []
        for path in paths:
            runs.append(load_run(path, load, device, data_dir))
            advance(1)
        check_same_data(runs)
        dt = runs[0].config.data.pendulum.dt
        imposed = {spec: load_torque(spec, HORIZON, dt) for spec in torques}
        checks: list[list[InterventionCheck]] = []
        evidence: dict[str, dict[str, torch.Tensor]] = {}
        for run, label in zip(runs, row_labels(runs), strict=True):
            run_checks = []
            for spec, torque in imposed.items():
                run_checks.append(check_intervention(run, spec, torque, sequences))
                advance(1)
            checks.append(run_checks)
            if several:
                evidence[label] = sequence_evidence(run.model, run.test, k, sequences, seed=seed,
                                                        progress=False)
                advance(1)
    parts = [comparison_part(runs, evidence, k, checks)] if several else []
    parts += [run_part(run, i, run_checks, alone=not several)
              for i, (run, run_checks) in enumerate(zip(runs, checks, strict=True))]
    title = f"vaelab report: {runs[0].name}" if not several else f"vaelab report: {len(runs)} sequence runs"
    footer = (f"Written by vaelab {__version__} on {time.strftime('%Y-%m-%d %H:%M')}. Interventions on the "
              f"first {checks[0][0].sequences} test sequences of each run, {CONTEXT} context frames, "
              f"{HORIZON} imposed steps" + (f"; evidence with k = {k}, seed {seed}." if several else "."))
    atomic_write_text(target, render_page(title, parts, footer))
    return target


__all__ = ["CONTEXT", "HORIZON", "SequenceRun", "load_run", "write_sequence_report"]
