"""Fitting stored images to a likelihood: refusals and the binarization protocols."""

from __future__ import annotations

import pytest
import torch

from vaelab.data import DataError, ImageSet
from vaelab.data.representation import (
    check_fit,
    resolve_binarization,
    static_binarization,
    to_model_space,
)


def grey(n: int = 4) -> ImageSet:
    images = torch.randint(0, 256, (n, 1, 5, 5), generator=torch.Generator().manual_seed(0))
    return ImageSet(images=images.to(torch.uint8), labels=None, binary=False, name="grey")


def test_grey_data_and_bernoulli_need_an_explicit_binarization() -> None:
    with pytest.raises(DataError, match="--binarization dynamic"):
        check_fit(grey(), "binary", "none")
    check_fit(grey(), "binary", "dynamic")
    check_fit(grey(), "unit", "none")


def test_auto_binarizes_builtin_datasets_only() -> None:
    assert resolve_binarization("auto", "mnist") == "dynamic"
    assert resolve_binarization("auto", "/home/me/photos") == "none"
    assert resolve_binarization("static", "/home/me/photos") == "static"


def test_binary_data_refuse_an_8bit_likelihood() -> None:
    binary = ImageSet(images=torch.ones(2, 1, 3, 3, dtype=torch.uint8), labels=None, binary=True,
                      name="b")
    with pytest.raises(DataError, match="bernoulli"):
        check_fit(binary, "byte", "none")


def test_static_binarization_is_fixed_by_its_seed() -> None:
    a, b, c = (static_binarization(grey(), s) for s in (1, 1, 2))
    assert a.binary and torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert set(a.images.unique().tolist()) <= {0, 1}


def test_model_space_units() -> None:
    data = grey()
    assert to_model_space(data.images, False, "byte").max() > 1
    unit = to_model_space(data.images, False, "unit")
    torch.testing.assert_close(unit, data.images.float() / 255)
    g = torch.Generator().manual_seed(0)
    sampled = to_model_space(data.images, False, "binary", g)
    assert set(sampled.unique().tolist()) <= {0.0, 1.0}
