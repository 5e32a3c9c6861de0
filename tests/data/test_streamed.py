"""User data read block by block (in memory) or a batch at a time (streamed): the same images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data import (
    DataError,
    StreamedImages,
    load_dataset,
    materialize,
    npy_file,
    open_dataset,
    split_off,
)
from vaelab.data.pixels import to_pixels

RNG = np.random.default_rng(3)


def save_images(path: Path, n: int = 40, side: int = 6, channels_last: bool = True) -> np.ndarray:
    shape = (n, side, side, 3) if channels_last else (n, 3, side, side)
    array = RNG.integers(0, 256, shape, dtype=np.uint8)
    np.save(path, array)
    return array


def test_blocks_read_into_memory_match_the_whole_array_split(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    array = save_images(tmp_path / "x.npy")
    monkeypatch.setattr(npy_file, "BLOCK_BYTES", 7 * 6 * 6 * 3)  # 7 rows a block: several blocks
    splits = load_dataset(str(tmp_path / "x.npy"), seed=5)
    whole = to_pixels({"all": array}, "x")[0]["all"]
    from vaelab.data.imageset import ImageSet

    rest, test = split_off(ImageSet(whole, None, False, "x"), 4, 5)
    assert torch.equal(splits["train"].images, rest.images)
    assert torch.equal(splits["test"].images, test.images)
    assert splits["train"].images.dtype == torch.uint8 and splits["train"].images.is_contiguous()


def test_float_and_flat_arrays_convert_block_by_block(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    array = RNG.uniform(0, 1, (30, 16)).astype(np.float32)
    np.save(tmp_path / "f.npy", array)
    monkeypatch.setattr(npy_file, "BLOCK_BYTES", 5 * 16 * 4)
    data = open_dataset(str(tmp_path / "f.npy"), seed=0)
    loaded = materialize(data)
    expected = to_pixels({"all": array}, "f")[0]["all"]
    rows = np.concatenate([data["train"].rows, data["test"].rows])
    assert torch.equal(torch.cat([loaded["train"].images, loaded["test"].images]), expected[rows])
    assert loaded["train"].image_shape == (1, 4, 4)


def test_splits_move_row_numbers_not_images(tmp_path: Path) -> None:
    save_images(tmp_path / "x.npy")
    train = open_dataset(str(tmp_path / "x.npy"), seed=0, stream=True)["train"]
    rest, held = split_off(train, 5, 1)
    assert isinstance(rest, StreamedImages) and rest.source is train.source
    assert sorted(np.concatenate([rest.rows, held.rows]).tolist()) == sorted(train.rows.tolist())
    in_memory = train.load()
    assert torch.equal(held.load().images, split_off(in_memory, 5, 1)[1].images)


def test_streamed_reads_equal_the_loaded_images(tmp_path: Path) -> None:
    save_images(tmp_path / "x.npy", channels_last=False)
    streamed = open_dataset(str(tmp_path / "x.npy"), seed=0, stream=True)["train"]
    loaded = streamed.load()
    positions = [3, 0, 17, 3]
    assert torch.equal(streamed.__getitems__(positions), loaded.images[positions])
    assert torch.equal(streamed[7], loaded.images[7])
    assert streamed.binary is False and streamed.image_shape == (3, 6, 6)


def test_an_image_folder_is_listed_then_decoded_on_demand(tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8), "RGB").save(folder / f"{i:02d}.png")
    streamed = open_dataset(str(folder), seed=0, stream=True)
    loaded = load_dataset(str(folder), seed=0)
    for split in ("train", "test"):
        assert torch.equal(streamed[split].read(slice(None)), loaded[split].images)
    assert streamed["train"].image_shape == (3, 5, 7)


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((4, 6, 6), dtype=np.complex64), "unsupported dtype complex64"),
    (np.zeros((4, 2, 6, 6, 3), dtype=np.uint8), "images must have shape"),
    (np.full((4, 6, 6), 300, dtype=np.int16), "must lie in 0..255"),
    (np.zeros((0, 6, 6), dtype=np.uint8), "empty"),
])
def test_bad_arrays_are_refused_before_streaming(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=message):
        open_dataset(str(tmp_path / "bad.npy"), stream=True)


def test_streaming_needs_a_c_ordered_npy(tmp_path: Path) -> None:
    array = RNG.integers(0, 256, (8, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", images=array)
    with pytest.raises(DataError, match="streaming reads .npy files"):
        open_dataset(str(tmp_path / "x.npz"), stream=True)
    np.save(tmp_path / "f.npy", np.asfortranarray(array))
    with pytest.raises(DataError, match="Fortran-ordered"):
        open_dataset(str(tmp_path / "f.npy"), stream=True)
    assert torch.equal(load_dataset(str(tmp_path / "f.npy"))["train"].images,
                       load_dataset(str(tmp_path / "x.npz"))["train"].images)


def test_a_truncated_npy_is_a_clear_error(tmp_path: Path) -> None:
    save_images(tmp_path / "x.npy")
    path = tmp_path / "x.npy"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DataError, match="ends early"):
        load_dataset(str(path))


def test_a_streamed_folder_of_zero_one_images_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "bits"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(RNG.integers(0, 2, (4, 4), dtype=np.uint8), "L").save(folder / f"{i}.png")
    with pytest.raises(DataError, match="0/1 pixel values"):
        open_dataset(str(folder), stream=True)
    assert load_dataset(str(folder))["train"].binary
