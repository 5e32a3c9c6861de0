"""`vaelab.bdmc`: the table of brackets on simulated data, and one clear error for bad settings."""

from __future__ import annotations

import pytest

import vaelab
from tests.objectives.test_estimators import ppca
from vaelab.evaluation.bdmc import format_bdmc, position
from vaelab.objectives.result import Estimate


def test_the_table_narrows_with_steps_and_places_the_is_estimate() -> None:
    model, _ = ppca(8, 2, 0.5, 1.2)
    heard: list[str] = []
    result = vaelab.bdmc(model, 40, steps=(200, 5), is_samples=500, leapfrog_steps=5, log=heard.append)
    assert [row["steps"] for row in result["rows"]] == [5, 200] and len(heard) == 2
    few, many = result["rows"]
    assert many["width"]["mean"] < few["width"]["mean"] / 3
    paired = Estimate(**many["is_minus_lower"]).mean + Estimate(**many["upper_minus_is"]).mean
    assert paired == pytest.approx(many["width"]["mean"])
    assert len(many["per_example"]["lower"]) == 40
    assert result["pareto_k"]["examples"] == 40 and result["log_px_is"]["n"] == 40
    table = format_bdmc(result)
    assert "BDMC on 40 examples simulated from the model (1 chain each way" in table
    assert table.splitlines()[-1].split()[0] == "200"


def test_a_far_too_narrow_guide_falls_below_the_bracket() -> None:
    model, _ = ppca(8, 2, 0.5, 0.2)
    result = vaelab.bdmc(model, 40, steps=(300,), is_samples=200, leapfrog_steps=5)
    assert result["rows"][0]["is_position"].startswith("below by")
    assert result["pareto_k"]["share_above"] > 0.5


def test_bad_settings_are_one_error_naming_each() -> None:
    model, _ = ppca(4, 1, 0.5, 1.0)
    with pytest.raises(ValueError, match=r"examples \(--bdmc N\) must be >= 1, got 0; annealing steps"):
        vaelab.bdmc(model, 0, steps=(10, 0))
    with pytest.raises(ValueError, match="chains"):
        vaelab.bdmc(model, 3, chains=0)


def test_position_of_the_is_estimate() -> None:
    assert position(Estimate(-1.0, 0.1, 5), Estimate(2.0, 0.1, 5)) == "below by 1.00 ± 0.10"
    assert position(Estimate(1.5, 0.1, 5), Estimate(-0.5, 0.2, 5)) == "above by 0.50 ± 0.20"
    assert position(Estimate(0.5, 0.1, 5), Estimate(0.5, 0.1, 5)) == "inside, at 0.50 of the width"
