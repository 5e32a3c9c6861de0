"""Every importance-sampled figure says whether it can be trusted: k̂ in the results, a warning."""

from __future__ import annotations

import torch

import vaelab
from tests.objectives.test_estimators import ppca
from vaelab.evaluation.trust import pareto_summary, trust_text, trust_warning
from vaelab.kinds import vae as vae_kind
from vaelab.runs.evaluations import Evaluation


def test_evaluate_reports_k_hat_per_example_and_the_share_above_threshold() -> None:
    model, x = ppca(6, 2, 0.5, 1.2, shift=0.0)  # a guide a little wider than the posterior
    good = vaelab.evaluate(model, x[:20], k=200)["pareto_k"]
    assert good["examples"] == 20 and len(good["per_example"]) == 20 and good["tail"] == 40
    assert good["above"] == 0 and good["share_above"] == 0.0 and trust_warning(good) is None
    model.set_guide_to_posterior(scale_factor=0.3)
    bad = vaelab.evaluate(model, x[:20], k=200)
    line = trust_warning(bad["pareto_k"])
    assert bad["pareto_k"]["share_above"] > 0.5 and line is not None
    assert line.startswith(f"warning: Pareto k̂ > 0.7 for {bad['pareto_k']['above']} of 20 test images")
    summary = vae_kind.test_summary(bad)
    assert summary.splitlines()[1] == line and "Pareto k̂: median" in summary.splitlines()[0]


def test_ais_evaluation_reports_k_hat_of_its_importance_sampling() -> None:
    model, x = ppca(4, 1, 0.5, 1.0, shift=0.0)
    result = vaelab.evaluate(model, x[:4], k=50, ais_examples=3, ais_chains=2, ais_steps=5)
    assert result["ais"]["pareto_k"]["examples"] == 3


def test_too_few_samples_say_so_and_equal_weights_are_trusted() -> None:
    few = pareto_summary(torch.full((4,), float("nan")), k=10)
    assert "k̂ needs k >= 21" in few["note"] and trust_warning(few) is None and trust_text(few) is None
    flat = pareto_summary(torch.tensor([-float("inf"), 0.2]), k=100)
    assert flat["per_example"] == [None, 0.2] and flat["max"] == 0.2 and flat["median"] is None
    assert trust_text(flat) == "Pareto k̂: median −∞, max 0.20; 0.0 % of examples above 0.7"


def test_metrics_json_lists_evaluations_without_each_examples_k_hat() -> None:
    test = {"elbo": {}, "pareto_k": pareto_summary(torch.tensor([0.1, 0.9]), k=100)}
    evaluation = Evaluation("e", "frame", "t", {"k": 100}, "w", results={"test": test})
    listed = evaluation.summary()["test"]["pareto_k"]
    assert "per_example" not in listed and listed["above"] == 1
    assert evaluation.results["test"]["pareto_k"]["per_example"] == [0.1, 0.9]
