"""The run at a glance: what was trained on what, for how long, and how well (nats)."""

from __future__ import annotations

import math
from typing import Any

from vaelab.data.representation import resolve_binarization
from vaelab.evaluation.trust import trust_text, trust_warning
from vaelab.reports.blocks import Section, Table, Text
from vaelab.reports.context import RunContext
from vaelab.reports.latent import ACTIVITY_THRESHOLD
from vaelab.reports.numbers import DASH, bits_per_dim, duration_text, estimate_text
from vaelab.reports.sections import register_section
from vaelab.runs.distributed import resolve_device
from vaelab.runs.evaluations import metrics_describe_the_weights
from vaelab.runs.length import until_budget


def _flatten(prefix: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in values.items():
        if isinstance(value, dict):
            rows += _flatten(f"{prefix}{key}.", value)
        else:
            shown = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            rows.append((f"{prefix}{key}", shown))
    return rows


def _device_text(name: str) -> str:
    if name != "auto":
        return name
    try:
        return f"auto (resolves to {resolve_device(name).type} on this machine)"
    except ValueError:
        return "auto"


def _best_epoch(records: list[dict[str, Any]], config: Any = None) -> str:
    """The epoch whose weights the run kept, by the criterion that kept them."""
    if getattr(getattr(config, "semisupervised", None), "select_by", "bound") == "error":
        errors = [(r["valid_error"], r["epoch"]) for r in records if r.get("valid_error") is not None]
        if errors:
            error, epoch = min(errors)  # the first epoch with the lowest error, as the loop keeps
            return f"{epoch} (validation error {100 * error:.2f} %)"
    scored = [(r.get("valid_bound"), r["epoch"]) for r in records if r.get("valid_bound") is not None]
    if not scored:
        return DASH
    best, epoch = max(scored)
    return f"{epoch} (validation ELBO {best:.2f} nats)"


@register_section(order=10)
def run_summary(run: RunContext) -> Section:
    """Config, data, wall time and device of the run."""
    if run.config is None:
        return _own_model_summary(run)
    config, splits, records = run.config, run.splits, run.records
    model = config.model
    c, h, w = splits.test.image_shape
    valid = len(splits.valid) if splits.valid is not None else 0
    epochs_done = records[-1]["epoch"] if records else 0
    budget = config.train.time_budget_minutes
    stopped = " (stopped early)" if epochs_done < config.train.epochs and records else ""
    of_epochs = (f" (until the {budget:g}-min time budget)" if until_budget(config.train.epochs)
                 else f" of {config.train.epochs}{stopped}")
    binarization = ""
    if model.likelihood == "bernoulli":  # grey data meets Bernoulli only through binarization
        how = resolve_binarization(config.data.binarization, config.data.dataset)
        if how == "static" or not splits.test.binary:
            binarization = f", {how} binarization"
    parameters = sum(p.numel() for p in run.model.parameters())
    objective = config.train.objective + (f" (k = {config.train.samples})"
                                          if config.train.samples > 1 else "")
    rows = (
        ("run folder", str(run.run_dir.resolve())),
        ("data", f"{config.data.dataset}: {len(splits.train):,} train / {valid:,} validation / "
                 f"{len(splits.test):,} test images of {c}×{h}×{w}{binarization}"),
        ("model", f"{model.architecture} VAE, latent dim {model.latent_dim}, hidden "
                  f"{','.join(map(str, model.hidden))}, {model.activation}; "
                  f"{parameters:,} parameters"),
        ("likelihood p(x|z)", model.likelihood),
        ("prior p(z)", f"Normal(0, {model.prior_scale:g}² I)"),
        ("objective", objective),
        ("epochs", f"{epochs_done}{of_epochs}"),
        ("best epoch", _best_epoch(records, config)),
        ("training wall time", duration_text(records[-1].get("seconds")) if records else DASH),
        ("device", _device_text(config.train.device)),
        ("seed", str(config.train.seed)),
    )
    full = Table(("setting", "value"), tuple(_flatten("", config.to_dict())),
                 caption="Full configuration (config.json)", collapsed=True)
    return Section("summary", "Run", (Table(("what", "value"), rows), full))


def _own_model_summary(run: RunContext) -> Section:
    """The summary of a model you built and trained with `vaelab.fit` (from its config.json)."""
    described, records = run.description or {}, run.records
    loop = described.get("loop", {})
    parameters = sum(p.numel() for p in run.model.parameters())
    epochs_done = records[-1]["epoch"] if records else 0
    samples = described.get("samples", 1)
    rows = (
        ("run folder", str(run.run_dir.resolve())),
        ("data", f"{run.x_test.shape[0]:,} test examples of shape "
                 f"{'×'.join(map(str, run.model.data_shape))} shown here"),
        ("model", f"{described.get('model_class', type(run.model).__name__)} (your own, trained with "
                  f"vaelab.fit); {parameters:,} parameters"),
        ("objective", f"{described.get('objective', DASH)}" + (f" (k = {samples})" if samples > 1 else "")),
        ("epochs", f"{epochs_done} of {loop.get('epochs', DASH)}"),
        ("best epoch", _best_epoch(records)),
        ("training wall time", duration_text(records[-1].get("seconds")) if records else DASH),
        ("seed", str(loop.get("seed", DASH))),
    )
    full = Table(("setting", "value"), tuple(_flatten("", described)),
                 caption="Full configuration (config.json)", collapsed=True)
    return Section("summary", "Run", (Table(("what", "value"), rows), full))


def _when(time: str | None) -> str:
    """"2025-11-25 10:15 UTC" from a saved ISO time."""
    return f"{time[:10]} {time[11:16]} UTC" if time and len(time) >= 16 else DASH


def _evaluation_row(label: str, entry: dict[str, Any]) -> tuple[str, ...]:
    test = entry.get("test") or {}
    return (label, str(entry.get("k", DASH)), str(entry.get("examples", DASH)),
            estimate_text(test.get("elbo")), estimate_text(test.get("log_px_is")),
            _when(entry.get("time")), str(entry.get("file", DASH)))


EVALUATION_HEADER = ("evaluation", "k", "test images", "test ELBO", "test log p(x), IS", "when", "saved as")


def evaluation_tables(run: RunContext) -> list[Table]:
    """The latest and the strongest evaluation (largest k, then most test images) labelled with
    their k and number of test images, and (folded) every evaluation kept in RUN/evaluations/.
    A metrics.json from before evaluations were kept shows as its one evaluation."""
    metrics = run.metrics or {}
    test = metrics.get("test")
    if not test:
        return []
    kept = metrics.get("evaluations") or {}
    latest, strongest = kept.get("latest"), kept.get("strongest")
    if not (latest and strongest):
        entry = {"k": test.get("is_samples", DASH), "examples": test.get("examples", DASH), "test": test,
                 "file": "metrics.json"}
        return [Table(EVALUATION_HEADER, (_evaluation_row("the saved evaluation", entry),),
                      caption="The one evaluation in metrics.json (written before vaelab kept every "
                              "evaluation in RUN/evaluations/).")]
    if latest.get("id") == strongest.get("id"):
        rows = (_evaluation_row("latest, also the strongest", latest),)
    else:
        rows = (_evaluation_row("strongest (largest k)", strongest), _evaluation_row("latest", latest))
    every = kept.get("all") or []
    if run.config is None:  # vaelab.report of your own model: evaluated for the page, and kept
        return [Table(EVALUATION_HEADER, rows, caption=(
            f"Computed for this report by vaelab.report and kept in RUN/evaluations/: k = "
            f"{strongest.get('k')} importance samples on {strongest.get('examples')} test examples "
            "(`vaelab.evaluate` gives the same numbers)."))]
    whose = ("of the current weights" if metrics_describe_the_weights(run.run_dir) else
             "saved — of EARLIER weights: the run has trained further since it was last evaluated, "
             "and `vaelab evaluate RUN` evaluates the current ones —")
    tables = [Table(EVALUATION_HEADER, rows, caption=(
        f"Every `vaelab evaluate` is kept in RUN/evaluations/ ({len(every)} so far). The quantities "
        f"above are from the strongest evaluation {whose}: k = {strongest.get('k')} "
        f"importance samples on {strongest.get('examples')} test images."))]
    if len(every) > 1:
        tables.append(Table(EVALUATION_HEADER, tuple(
            _evaluation_row(entry.get("id", DASH) + ("" if entry.get("current_weights", True)
                                                      else " (earlier weights)"), entry)
            for entry in reversed(every)), caption="All evaluations, newest first", collapsed=True))
    return tables


def _metric_rows(run: RunContext) -> list[tuple[str, str, str]]:
    test = run.metrics.get("test", {}) if run.metrics else {}
    dims = math.prod(run.model.data_shape)
    rows: list[tuple[str, str, str]] = []
    if test:
        n = test.get("examples", DASH)
        rows.append(("test ELBO", estimate_text(test.get("elbo")), f"nats per image, {n} test images"))
        rows.append(("test log p(x), importance sampled", estimate_text(test.get("log_px_is")),
                     f"nats per image, k = {test.get('is_samples', DASH)} samples of q(z|x)"))
        if run.model.data_kind == "byte":
            for label, key in (("ELBO", "elbo"), ("log p(x)", "log_px_is")):
                entry = test.get(key) or {}
                if entry.get("mean") is not None:
                    rows.append((f"bits/dim from {label}", f"{bits_per_dim(entry['mean'], dims):.3f}",
                                 f"over {dims:,} 8-bit dimensions; lower is better"))
        if test.get("ess_mean") is not None:
            rows.append(("effective sample size", f"{test['ess_mean']:.1f}",
                         "of the importance weights, mean over test images"))
        rows += _trust_rows(test.get("pareto_k"))
    kl = run.kl_per_dim
    if kl is not None:
        rows.append(("KL(q(z|x) ‖ p(z))", f"{float(kl.sum()):.2f}",
                     f"nats per image, mean over {run.x_test.shape[0]} test images"))
    if run.activity is not None:
        active = int((run.activity > ACTIVITY_THRESHOLD).sum())
        rows.append(("active units", f"{active} of {run.model.latent_dim}",
                     f"Cov_x(E_q[z_d|x]) > {ACTIVITY_THRESHOLD} (Burda et al. 2016)"))
    return rows


def _trust_rows(pareto: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """The Pareto k̂ of the importance weights: can the log p(x) above be trusted?"""
    if pareto is None:  # an evaluation from before k̂ was reported
        return []
    text = trust_text(pareto)
    if text is None:
        return [("Pareto k̂ of the weights", DASH, str(pareto.get("note", "")))]
    note = (f"of the top {pareto['tail']} importance weights per test image (PSIS, Vehtari et al. "
            f"2024); above {pareto['threshold']:g} an image's log p(x) should not be trusted")
    warning = trust_warning(pareto)
    return [("Pareto k̂ of the weights", text.removeprefix("Pareto k̂: "),
             note if warning is None else f"{note}. {warning[0].upper()}{warning[1:]}")]


@register_section(order=20)
def final_metrics(run: RunContext) -> Section:
    """Test ELBO, importance-sampled log p(x) (± standard error), bits/dim and active units."""
    blocks: list[Text | Table] = []
    if not (run.metrics and run.metrics.get("test")):
        blocks.append(Text("No test metrics yet (metrics.json is missing): run "
                           f"`vaelab evaluate {run.run_dir}` to compute the test ELBO and "
                           "log p(x)."))
    evaluations = evaluation_tables(run)
    source = " Test figures from the strongest evaluation (below)." if evaluations else ""
    blocks.append(Table(("quantity", "value", "unit / note"), tuple(_metric_rows(run)),
                        caption="Mean ± standard error over test images. Higher log-likelihoods "
                                "are better; log p(x) ≥ ELBO up to sampling error." + source))
    return Section("metrics", "Final metrics", (*blocks, *evaluations))
