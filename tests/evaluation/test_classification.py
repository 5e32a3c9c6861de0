"""Classification metrics and the class pictures of semi-supervised models."""

from __future__ import annotations

import pytest
import torch

from vaelab.distributions.families import BernoulliFamily
from vaelab.evaluation.classification import (
    analogies,
    class_samples,
    classification_metrics,
    confusion_matrix,
    unlabelled_bound_estimate,
)
from vaelab.models.m2 import M2Shape, build_m2


def test_confusion_matrix_and_errors_count_what_they_say() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 0, 2])
    assert confusion_matrix(predicted, labels, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    probs = torch.nn.functional.one_hot(predicted, 3).float() * 0.9 + 0.1 / 3
    metrics = classification_metrics(probs, labels)
    assert metrics["error"]["mean"] == pytest.approx(2 / 6)
    assert metrics["per_class_error"] == pytest.approx([0.5, 0.0, 0.5])
    assert metrics["examples"] == 6


@pytest.fixture
def model() -> torch.nn.Module:
    return build_m2(M2Shape(4, latent_dim=3, hidden=(8,), classifier_hidden=(8,)), (1, 6, 6),
                    BernoulliFamily()).eval()


def test_analogies_put_each_image_beside_its_style_in_every_class(model: torch.nn.Module) -> None:
    x = torch.bernoulli(torch.full((5, 1, 6, 6), 0.3))
    grid = analogies(model, x, torch.tensor([0, 1, 2, 3, 0]))
    assert grid.shape == (5, 1 + 4, 1, 6, 6)
    assert torch.equal(grid[:, 0], x)
    # column c + 1 decodes (y = c, z = style of x)
    z = model.style(x[:1], torch.tensor([0]))
    expected = model.decode_mean((torch.eye(4)[2:3], z))
    torch.testing.assert_close(grid[0, 3], expected[0])


def test_class_samples_are_repeatable_and_of_the_asked_class(model: torch.nn.Module) -> None:
    first = class_samples(model, 4, 3, torch.Generator().manual_seed(1))
    again = class_samples(model, 4, 3, torch.Generator().manual_seed(1))
    assert first.shape == (12, 1, 6, 6) and torch.equal(first, again)
    assert class_samples(model, 4, 5, only=2).shape == (5, 1, 6, 6)


def test_unlabelled_bound_is_finite_and_per_example(model: torch.nn.Module) -> None:
    estimate = unlabelled_bound_estimate(model, torch.bernoulli(torch.full((7, 1, 6, 6), 0.3)))
    assert estimate.n == 7 and estimate.mean < 0


def test_an_image_is_classified_the_same_wherever_it_sits(model: torch.nn.Module) -> None:
    """Grey user images are binarized per image (the seed and the image's pixels pick the draw),
    so [a, b, a] gives both a's the answer and probabilities of [a] alone, on every call."""
    from vaelab.evaluation.classification import class_probabilities, model_space

    grey = torch.Generator().manual_seed(3)
    a, b = torch.randint(0, 256, (2, 1, 1, 6, 6), generator=grey, dtype=torch.uint8)
    x = model_space(model, torch.cat([a, b, a]), binary=False)
    assert torch.equal(x[0], x[2])
    probs = class_probabilities(model, x)
    alone = class_probabilities(model, model_space(model, a, binary=False))
    assert torch.equal(probs[0], probs[2]) and probs.argmax(-1)[0] == alone.argmax(-1)[0]
    torch.testing.assert_close(probs[0], alone[0])  # a batch of one may round differently
    assert torch.equal(model_space(model, torch.cat([a, b, a]), binary=False), x)  # every call
    assert set(x.unique().tolist()) <= {0.0, 1.0}  # still a Bernoulli draw, as in training


def test_a_fitted_temperature_that_raises_the_validation_ece_is_not_used() -> None:
    from vaelab.evaluation.classification import calibrate

    # 96 confident right answers at 0.9 and 4 mistakes at 1 - 1e-6: the NLL is dominated by the
    # mistakes, so its best T flattens everything, while the untempered ECE is already small
    labels = torch.zeros(100, dtype=torch.long)
    probs = torch.tensor([[0.9, 0.1]]).repeat(100, 1)
    probs[:4] = torch.tensor([1e-6, 1 - 1e-6])
    found = calibrate(probs, labels, probs, labels)
    assert found["fitted_temperature"] > 2.0
    assert found["validation_ece_fitted"] > found["validation_ece_before"]
    assert found["temperature"] == 1.0 and found["test_ece_after"] == pytest.approx(found["test_ece_before"])
    # overconfident throughout (0.99 for 80 % right): the fitted T lowers the ECE and is used
    labels = torch.tensor([0] * 80 + [1] * 20)
    probs = torch.tensor([[0.99, 0.01]]).repeat(100, 1)
    found = calibrate(probs, labels, probs, labels)
    assert found["temperature"] == found["fitted_temperature"] > 1.0
    assert found["test_ece_after"] < found["test_ece_before"]
