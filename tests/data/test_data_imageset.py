"""ImageSet validation, subsets, seeded split_off and stochastic binarization."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vaelab.data import DataError, ImageSet, binarize, split_off


def make_set(n: int = 20, binary: bool = False) -> ImageSet:
    """n tiny images whose every pixel equals the image's index (or index % 2 when binary)."""
    values = (torch.arange(n) % (2 if binary else 256)).to(torch.uint8)
    images = values.view(n, 1, 1, 1).expand(n, 1, 4, 5).contiguous()
    return ImageSet(images, torch.arange(n, dtype=torch.int64), binary, "toy")


def test_imageset_len_shape_and_subset() -> None:
    data = make_set(10)
    assert len(data) == 10
    assert data.image_shape == (1, 4, 5)
    part = data.subset(torch.tensor([7, 2]))
    assert part.labels is not None
    assert part.labels.tolist() == [7, 2]
    assert part.images[:, 0, 0, 0].tolist() == [7, 2]
    assert data.labels is not None
    assert len(data.subset(data.labels % 2 == 0)) == 5


def test_an_imageset_is_indexed_like_a_list() -> None:
    data = make_set(10)
    assert data[2:5].labels.tolist() == [2, 3, 4]
    assert data[-1].labels.tolist() == [9] and data[0].images.shape == (1, 1, 4, 5)
    assert data[torch.tensor([7, 2])].labels.tolist() == [7, 2]
    with pytest.raises(IndexError, match="index 10 is out of range for 10 examples"):
        data[10]


def test_a_batch_is_in_the_units_of_the_models_likelihood() -> None:
    data = make_set(256)
    unit, byte = data.batch("unit"), data[:3].batch("byte")
    assert unit.dtype == torch.float32 and unit.shape == (256, 1, 4, 5)
    torch.testing.assert_close(unit[:, 0, 0, 0], torch.arange(256) / 255.0)
    assert byte[:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0]
    binary = data.batch("binary", count=100, seed=3)
    assert set(binary.unique().tolist()) <= {0.0, 1.0} and binary.shape[0] == 100
    assert torch.equal(binary, data.batch("binary", count=100, seed=3))  # seeded
    assert not torch.equal(binary, data.batch("binary", count=100, seed=4))
    odd = make_set(6, binary=True)
    assert odd.batch("binary")[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]  # as they are

    class Model:
        data_kind = "unit"

    assert torch.equal(data.batch(Model()), unit)
    with pytest.raises(DataError, match="expected a model"):
        data.batch("grey")


def test_imageset_is_frozen() -> None:
    data = make_set()
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.binary = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("images", "labels", "binary", "message"),
    [
        (torch.zeros(2, 1, 3, 3), None, False, "uint8"),
        (torch.zeros(2, 3, 3, dtype=torch.uint8), None, False, "shape"),
        (torch.zeros(2, 2, 3, 3, dtype=torch.uint8), None, False, "C in"),
        (
            torch.zeros(2, 1, 3, 3, dtype=torch.uint8),
            torch.zeros(3, dtype=torch.int64),
            False,
            "labels",
        ),
        (
            torch.zeros(2, 1, 3, 3, dtype=torch.uint8),
            torch.zeros(2, dtype=torch.int32),
            False,
            "int64",
        ),
        (torch.full((2, 1, 3, 3), 255, dtype=torch.uint8), None, True, "binary=True"),
    ],
)
def test_imageset_rejects_bad_fields(
    images: torch.Tensor, labels: torch.Tensor | None, binary: bool, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        ImageSet(images, labels, binary, "bad")


def test_subset_rejects_float_index() -> None:
    with pytest.raises(DataError, match="index"):
        make_set().subset(torch.tensor([0.0, 1.0]))


def test_split_off_is_disjoint_complete_and_seeded() -> None:
    data = make_set(50)
    rest, held = split_off(data, 12, seed=3)
    assert (len(rest), len(held)) == (38, 12)
    assert rest.labels is not None and held.labels is not None
    rest_ids, held_ids = set(rest.labels.tolist()), set(held.labels.tolist())
    assert not rest_ids & held_ids
    assert rest_ids | held_ids == set(range(50))
    # images travel with their labels
    assert torch.equal(held.images[:, 0, 0, 0].long(), held.labels)
    again_rest, again_held = split_off(data, 12, seed=3)
    assert torch.equal(again_held.labels, held.labels)
    assert torch.equal(again_rest.labels, rest.labels)
    _, other = split_off(data, 12, seed=4)
    assert not torch.equal(other.labels, held.labels)


@pytest.mark.parametrize("size", [0, -1, 50, 51, 2.5])
def test_split_off_rejects_bad_sizes(size: int) -> None:
    with pytest.raises(DataError, match="0 < size < 50"):
        split_off(make_set(50), size, seed=0)


def test_binarize_is_reproducible_and_unbiased() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (200, 1, 28, 28), dtype=torch.uint8)
    first = binarize(images, torch.Generator().manual_seed(7))
    second = binarize(images, torch.Generator().manual_seed(7))
    other = binarize(images, torch.Generator().manual_seed(8))
    assert first.dtype == torch.float32 and first.shape == images.shape
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    # 156800 Bernoulli draws: the standard error of the mean is below 0.0013.
    expected = images.float().mean().item() / 255.0
    assert abs(first.mean().item() - expected) < 0.01


def test_binarize_extremes_are_deterministic() -> None:
    images = torch.tensor([0, 255], dtype=torch.uint8).repeat(100).view(200, 1, 1, 1)
    out = binarize(images, None)
    assert torch.equal(out, images.float() / 255.0)


def test_binarize_rejects_float_input() -> None:
    with pytest.raises(DataError, match="uint8"):
        binarize(torch.rand(2, 1, 3, 3), None)
