"""Calibration: ECE and reliability bins against a hand computation, temperature scaling."""

from __future__ import annotations

import pytest
import torch

from vaelab.evaluation.calibration import (
    apply_temperature,
    bin_sums,
    expected_calibration_error,
    fit_temperature,
    reliability,
)


def test_ece_matches_a_hand_computation() -> None:
    """Four predictions, confidences 0.95, 0.9, 0.58, 0.55 (top class 0), labels 0, 1, 0, 0.
    15 bins of width 1/15, B_m = ((m − 1)/15, m/15]: 0.95 falls in bin 14 (0-based), 0.9 in bin
    13, 0.58 and 0.55 in bin 8 ((0.533, 0.6]). ECE = 1/4·|1 − 0.95| + 1/4·|0 − 0.9| +
    2/4·|1 − 0.565| = 0.0125 + 0.225 + 0.2175 = 0.455."""
    confidences = torch.tensor([0.95, 0.9, 0.58, 0.55], dtype=torch.float64)
    probs = torch.stack([confidences, 1 - confidences], -1)
    labels = torch.tensor([0, 1, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.455)
    table = reliability(probs, labels)
    counts = {m: b["count"] for m, b in enumerate(table["bins"]) if b["count"]}
    assert counts == {8: 2, 13: 1, 14: 1}
    assert table["bins"][8]["confidence"] == pytest.approx(0.565)
    assert table["bins"][13]["accuracy"] == 0.0
    assert table["accuracy"] == pytest.approx(0.75)
    assert table["mean_confidence"] == pytest.approx(0.745)


def test_bins_are_right_closed_and_sums_add_across_parts() -> None:
    probs = torch.tensor([[1 / 15, 14 / 15], [0.5, 0.5], [1.0, 0.0]], dtype=torch.float64)
    labels = torch.tensor([1, 0, 0])
    sums = bin_sums(probs, labels)
    assert sums[0, 13] == 1 and sums[0, 7] == 1 and sums[0, 14] == 1  # 14/15 closes bin 13
    parts = bin_sums(probs[:2], labels[:2]) + bin_sums(probs[2:], labels[2:])
    torch.testing.assert_close(parts, sums)
    assert expected_calibration_error(torch.eye(3), torch.arange(3)) == 0.0


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels() -> None:
    """Labels drawn from softmax(logits / 2): the fitted T of softmax(logits) is about 2
    (seeded; 20,000 draws), the argmax is unchanged and the ECE falls."""
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(20_000, 5, generator=generator)
    labels = torch.multinomial(torch.softmax(logits / 2, -1), 1, generator=generator).squeeze(1)
    probs = torch.softmax(logits, -1)
    temperature = fit_temperature(probs, labels)
    assert temperature == pytest.approx(2.0, rel=0.05)
    tempered = apply_temperature(probs, temperature)
    assert torch.equal(tempered.argmax(-1), probs.argmax(-1))
    assert expected_calibration_error(tempered, labels) < expected_calibration_error(probs, labels) / 3
    with pytest.raises(ValueError, match="labelled examples"):
        fit_temperature(probs[:0], labels[:0])
