"""User data: folders of images (with class subfolders), .npy and .npz arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data import DataError, load_dataset

RNG = np.random.default_rng(0)


def write_grey(path: Path, size: tuple[int, int] = (8, 6), value: int | None = None) -> np.ndarray:
    """Save a greyscale PNG of width x height `size`; return its pixels [H, W]."""
    w, h = size
    pixels = (
        RNG.integers(0, 256, (h, w), dtype=np.uint8)
        if value is None
        else np.full((h, w), value, np.uint8)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="L").save(path)
    return pixels


def write_rgb(path: Path, size: tuple[int, int] = (8, 6)) -> np.ndarray:
    """Save an RGB PNG; return its pixels [H, W, 3]."""
    w, h = size
    pixels = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="RGB").save(path)
    return pixels


def both(splits: dict) -> torch.Tensor:
    """Images of train and test together, for checks that do not care about the split."""
    return torch.cat([splits["train"].images, splits["test"].images])


# --- folders -------------------------------------------------------------------------------


def test_grey_folder_holds_out_ten_percent(tmp_path: Path) -> None:
    folder = tmp_path / "digits"
    written = [write_grey(folder / f"img{i:02d}.png") for i in range(20)]
    splits = load_dataset(str(folder), seed=0)
    assert list(splits) == ["train", "test"]
    train, test = splits["train"], splits["test"]
    assert (len(train), len(test)) == (18, 2)
    assert train.image_shape == (1, 6, 8) and train.images.dtype == torch.uint8
    assert train.labels is None and not train.binary
    assert train.name == "digits/train" and test.name == "digits/test"
    stored = {bytes(img.numpy()) for img in both(splits)[:, 0]}
    assert stored == {bytes(pixels) for pixels in written}


def test_test_split_depends_on_seed_only(tmp_path: Path) -> None:
    for i in range(30):
        write_grey(tmp_path / f"{i}.png", value=i)
    first = load_dataset(str(tmp_path), seed=1)["test"].images
    assert torch.equal(first, load_dataset(str(tmp_path), seed=1)["test"].images)
    assert not torch.equal(first, load_dataset(str(tmp_path), seed=2)["test"].images)


def test_one_colour_image_makes_the_set_rgb(tmp_path: Path) -> None:
    grey = write_grey(tmp_path / "a.png", value=77)
    write_rgb(tmp_path / "b.PNG")  # upper-case suffix is found too
    palette = Image.fromarray(np.full((6, 8), 3, np.uint8), mode="L").convert("P")
    palette.save(tmp_path / "c.png")
    splits = load_dataset(str(tmp_path))
    images = both(splits)
    assert images.shape == (3, 3, 6, 8)
    grey_as_rgb = torch.from_numpy(np.stack([grey] * 3))
    assert any(torch.equal(img, grey_as_rgb) for img in images)


def test_class_subfolders_become_labels(tmp_path: Path) -> None:
    for name, value, count in (("zebra", 200, 6), ("cat", 10, 4)):
        for i in range(count):
            write_grey(tmp_path / name / f"{i}.png", value=value)
    (tmp_path / ".hidden").mkdir()
    write_grey(tmp_path / ".hidden" / "skip.png", size=(3, 3))  # hidden paths are ignored
    splits = load_dataset(str(tmp_path))
    labels = torch.cat([splits["train"].labels, splits["test"].labels])
    images = both(splits)
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 6  # sorted names: cat=0, zebra=1
    assert torch.equal(images[labels == 0].unique(), torch.tensor([10], dtype=torch.uint8))
    assert torch.equal(images[labels == 1].unique(), torch.tensor([200], dtype=torch.uint8))


def test_images_both_loose_and_in_subfolders_is_an_error(tmp_path: Path) -> None:
    write_grey(tmp_path / "loose.png")
    write_grey(tmp_path / "class" / "inside.png")
    with pytest.raises(DataError, match="loose.png"):
        load_dataset(str(tmp_path))


def test_mixed_sizes_need_image_size(tmp_path: Path) -> None:
    write_grey(tmp_path / "a.png", size=(8, 6))
    write_grey(tmp_path / "b.png", size=(5, 5))
    write_rgb(tmp_path / "c.jpg", size=(9, 4))
    with pytest.raises(DataError, match=r"a\.png is 8x6 but b\.png is 5x5.*image-size"):
        load_dataset(str(tmp_path))
    splits = load_dataset(str(tmp_path), image_size=7)
    assert both(splits).shape == (3, 3, 7, 7)


def test_binary_pngs_are_binary_but_black_and_white_is_not(tmp_path: Path) -> None:
    for i in range(4):
        write_grey(tmp_path / "bin" / f"{i}.png", value=i % 2)
        write_grey(tmp_path / "bw" / f"{i}.png", value=255 * (i % 2))
    binary = load_dataset(str(tmp_path / "bin"))
    assert binary["train"].binary and int(both(binary).max()) == 1
    eight_bit = load_dataset(str(tmp_path / "bw"))
    assert not eight_bit["train"].binary and int(both(eight_bit).max()) == 255


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="no images found"):
        load_dataset(str(tmp_path))


def test_unreadable_image_names_file(tmp_path: Path) -> None:
    write_grey(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset(str(tmp_path))


# --- .npy / .npz ---------------------------------------------------------------------------


def test_npy_layouts_agree(tmp_path: Path) -> None:
    hwc = RNG.integers(0, 256, (10, 5, 4, 3), dtype=np.uint8)
    np.save(tmp_path / "hwc.npy", hwc)
    np.save(tmp_path / "chw.npy", hwc.transpose(0, 3, 1, 2))
    a = load_dataset(str(tmp_path / "hwc.npy"))
    b = load_dataset(str(tmp_path / "chw.npy"))
    assert a["train"].image_shape == (3, 5, 4)
    assert torch.equal(a["test"].images, b["test"].images)
    assert torch.equal(both(a).sort(dim=0).values, both(b).sort(dim=0).values)
    assert a["train"].name == "hwc/train" and a["train"].labels is None


def test_npy_grey_and_flat(tmp_path: Path) -> None:
    grey = RNG.integers(0, 256, (10, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    np.save(tmp_path / "flat.npy", grey.reshape(10, 16))
    a, b = load_dataset(str(tmp_path / "grey.npy")), load_dataset(str(tmp_path / "flat.npy"))
    assert a["train"].image_shape == (1, 4, 4)
    assert torch.equal(a["train"].images, b["train"].images)


def test_float_array_is_scaled_and_rounded(tmp_path: Path) -> None:
    values = RNG.random((10, 3, 3)).astype(np.float32)
    np.save(tmp_path / "f.npy", values)
    images = both(load_dataset(str(tmp_path / "f.npy"), seed=0))
    expected = torch.from_numpy(np.rint(values * 255.0).astype(np.uint8))[:, None]
    assert torch.equal(images.sort(dim=0).values, expected.sort(dim=0).values)


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, bool, np.float32])
def test_zero_one_arrays_are_binary(tmp_path: Path, dtype: type) -> None:
    values = (RNG.random((10, 4, 4)) < 0.3).astype(dtype)
    np.save(tmp_path / "b.npy", values)
    splits = load_dataset(str(tmp_path / "b.npy"))
    assert splits["train"].binary and splits["test"].binary
    images = both(splits)
    assert images.dtype == torch.uint8 and int(images.max()) == 1
    assert int(images.sum()) == int(values.astype(np.int64).sum())


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((3, 4, 4), 1.5, np.float32), r"\[0, 1\]"),
        (np.full((3, 4, 4), np.nan, np.float32), "NaN"),
        (np.full((3, 4, 4), 300, np.int32), "0..255"),
        (np.full((3, 4, 4), -1, np.int32), "0..255"),
        (np.zeros((0, 4, 4), np.uint8), "empty"),
        (np.zeros((3, 4, 4, 2), np.uint8), "C in"),
        (np.zeros((3, 3, 4, 3), np.uint8), "ambiguous"),
        (np.zeros((3, 15), np.uint8), "not square"),
        (np.zeros((3, 4, 4), np.complex64), "unsupported dtype"),
    ],
)
def test_bad_arrays_are_rejected(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(str(tmp_path / "bad.npy"))
    assert "bad.npy" in str(info.value)


def test_npz_images_and_labels_stay_paired(tmp_path: Path) -> None:
    labels = np.arange(20) % 5
    images = np.repeat(labels[:, None, None], 16, axis=1).reshape(20, 4, 4).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=images, y=labels)
    splits = load_dataset(str(tmp_path / "d.npz"))
    for data in splits.values():
        assert data.labels is not None and data.labels.dtype == torch.int64
        assert torch.equal(data.images[:, 0, 0, 0].long(), data.labels)
    assert (len(splits["train"]), len(splits["test"])) == (18, 2)


def test_npz_defined_splits_are_kept_and_resized(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "s.npz",
        x_train=RNG.integers(0, 256, (6, 8, 8), dtype=np.uint8),
        y_train=np.arange(6),
        x_test=RNG.integers(0, 256, (3, 8, 8), dtype=np.uint8),
        y_test=np.arange(3),
    )
    splits = load_dataset(str(tmp_path / "s.npz"), image_size=4)
    assert list(splits) == ["train", "test"]
    assert splits["train"].images.shape == (6, 1, 4, 4)
    assert splits["test"].labels is not None and splits["test"].labels.tolist() == [0, 1, 2]


def test_npz_errors_name_the_problem(tmp_path: Path) -> None:
    np.savez(tmp_path / "keys.npz", pixels=np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"keys\.npz.*\['pixels'\].*'images'"):
        load_dataset(str(tmp_path / "keys.npz"))
    np.savez(tmp_path / "n.npz", images=np.zeros((3, 4, 4), np.uint8), labels=np.arange(2))
    with pytest.raises(DataError, match="length 3"):
        load_dataset(str(tmp_path / "n.npz"))


def test_resized_binary_array_stays_binary(tmp_path: Path) -> None:
    np.save(tmp_path / "b.npy", (RNG.random((10, 8, 8)) < 0.5).astype(np.uint8))
    splits = load_dataset(str(tmp_path / "b.npy"), image_size=5)
    assert splits["train"].binary and splits["train"].image_shape == (1, 5, 5)
    assert int(both(splits).max()) == 1


# --- sources -------------------------------------------------------------------------------


def test_unknown_source_lists_dataset_names(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="mnist-5k, mnist, binarized-mnist, fashion-mnist"):
        load_dataset(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="Did you mean 'fashion-mnist'"):
        load_dataset("fashion_mnist")


def test_unsupported_file_and_bad_image_size(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("1,2,3")
    with pytest.raises(DataError, match="unsupported file type"):
        load_dataset(str(tmp_path / "data.csv"))
    with pytest.raises(DataError, match="image_size"):
        load_dataset("mnist-5k", image_size=0)


def test_single_image_is_too_few(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(DataError, match="at least 2"):
        load_dataset(str(tmp_path / "one.npy"))
