"""Sections for every kind of model the library builds: learned priors, a hierarchical latent,
8-bit likelihoods. Untrained models on the 2-D run's data: what matters is what each section
shows, not the numbers."""

from __future__ import annotations

import dataclasses
import math

import pytest

from vaelab.reports import RunContext, Table, run_sections
from vaelab.reports.latent_space import decoded_manifold, latent_scatter, latent_usage
from vaelab.reports.summary import final_metrics
from vaelab.reports.traversals import latent_traversals
from vaelab.training.experiment import build_model

from .conftest import EXAMPLES


def with_model(run: RunContext, **model: object) -> RunContext:
    """The run's data and records with a fresh model of a different config."""
    config = run.config.with_overrides({"model": model})
    fresh = build_model(config, run.splits.test.image_shape).eval()
    return dataclasses.replace(run, model=fresh, config=config, examples=EXAMPLES)


@pytest.mark.parametrize("inference", ["bottom-up", "top-down"])
def test_hierarchical_model_gets_pictures_but_no_single_latent_statistics(
        context_2d: RunContext, inference: str) -> None:
    run = with_model(context_2d, latent_dim=3, upper_latents=(2,), inference=inference)
    assert not run.single_latent and run.posterior_means is None
    # every section that asks the model something (the curves and estimator plots read files)
    builds = [b for b in run_sections() if b.__name__ not in ("training_curves", "estimator_comparison")]
    keys = [s.key for s in (build(run) for build in builds) if s is not None]
    assert {"summary", "metrics", "samples", "reconstructions", "interpolations"} <= set(keys)
    assert not {"latent-usage", "traversals", "latent-space", "manifold"} & set(keys)


@pytest.mark.parametrize("prior", ["mog", "vamp"])
def test_learned_priors_have_no_per_dimension_kl_but_the_other_latent_sections(
        context_2d: RunContext, prior: str) -> None:
    run = with_model(context_2d, prior=prior, prior_components=3)
    assert run.kl_per_dim is None and run.activity is not None
    usage = latent_usage(run)
    assert usage is not None and "KL" not in usage.blocks[0].alt.split(" and ")[0]
    for section in (latent_traversals, latent_scatter, decoded_manifold):
        assert section(run) is not None  # prior mean/stddev of a mixture drive the sweeps


def test_eight_bit_likelihood_reports_bits_per_dimension(context_2d: RunContext) -> None:
    elbo, log_px = -2000.0, -1900.0
    metrics = {"test": {"examples": 40, "is_samples": 10,
                        "elbo": {"mean": elbo, "stderr": 5.0, "n": 40},
                        "log_px_is": {"mean": log_px, "stderr": 4.0, "n": 40}}}
    run = dataclasses.replace(with_model(context_2d, likelihood="logistic8"), metrics=metrics)
    table = next(b for b in final_metrics(run).blocks if isinstance(b, Table))
    rows = {row[0]: row[1] for row in table.rows}
    dims = 28 * 28 * math.log(2.0)
    assert rows["test ELBO"] == "-2000.00 ± 5.00"
    assert rows["bits/dim from ELBO"] == f"{-elbo / dims:.3f}"
    assert rows["bits/dim from log p(x)"] == f"{-log_px / dims:.3f}" == "3.496"
