"""Balanced labelled subsets: per-class counts, reproducible by seed, clear errors."""

from __future__ import annotations

import pytest
import torch

from vaelab.data import DataError
from vaelab.data.labelled import balanced_subset, check_labels, infer_num_classes

LABELS = torch.arange(10).repeat(30)  # 300 examples, 30 per class


def test_subset_is_balanced_per_class() -> None:
    index = balanced_subset(LABELS, 100, 10, seed=0)
    assert index.numel() == 100 and index.unique().numel() == 100
    assert torch.bincount(LABELS[index], minlength=10).tolist() == [10] * 10


def test_subset_is_reproducible_by_seed_and_changes_with_it() -> None:
    assert torch.equal(balanced_subset(LABELS, 50, 10, seed=3), balanced_subset(LABELS, 50, 10, seed=3))
    assert not torch.equal(balanced_subset(LABELS, 50, 10, seed=3), balanced_subset(LABELS, 50, 10, seed=4))


def test_any_count_spreads_the_remainder_one_per_class() -> None:
    counts = torch.bincount(LABELS[balanced_subset(LABELS, 23, 10, seed=1)], minlength=10)
    assert counts.sum() == 23 and set(counts.tolist()) == {2, 3} and (counts == 3).sum() == 3


def test_all_and_unlabelled_marks() -> None:
    labels = torch.tensor([0, 1, -1, 2, -1, 1])
    assert balanced_subset(labels, None, 3, seed=0).tolist() == [0, 1, 3, 5]
    assert 2 not in balanced_subset(labels, 3, 3, seed=0).tolist()


@pytest.mark.parametrize(("labels", "count", "classes", "message"), [
    (torch.tensor([0, 1, 5]), 3, 3, "outside the class range"),
    (torch.tensor([0, 1, -2]), 3, 3, "outside the class range"),
    (LABELS, 5, 10, "fewer than one per class"),
    (LABELS, 301, 10, "hold only 300 labelled examples"),
    (torch.tensor([0] * 10 + [1]), 4, 2, "class 1 has 1 labelled"),
    (torch.tensor([0] * 10 + [2] * 10), 6, 3, "class 1 has no labelled example"),
])
def test_bad_requests_name_the_problem(labels: torch.Tensor, count: int, classes: int,
                                       message: str) -> None:
    with pytest.raises(DataError, match=message):
        balanced_subset(labels, count, classes, seed=0)


def test_missing_labels_and_class_count() -> None:
    with pytest.raises(DataError, match="has no labels"):
        check_labels(None, 10)
    assert infer_num_classes(torch.tensor([0, 4, 2])) == 5


def test_the_100_label_protocol_is_ten_per_class_the_same_for_a_seed_and_disjoint_from_unlabelled() -> None:
    labels = torch.cat([torch.arange(10).repeat(50), torch.full((30,), -1)])
    first, again = balanced_subset(labels, 100, 10, seed=7), balanced_subset(labels, 100, 10, seed=7)
    assert torch.equal(first, again)
    assert torch.bincount(labels[first], minlength=10).tolist() == [10] * 10
    assert bool((labels[first] >= 0).all())
