"""MNIST, Fashion-MNIST and binarized MNIST: reading, checksums, missing files and downloads.

Reads the shared benchmark files (../shared/data next to the repository) and skips when they
are absent. Downloads only ever go to file:// mirrors in temp folders.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from vaelab.data import DataError, checksums, load_dataset

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def copy_files(source: Path, target: Path) -> Path:
    """Fresh copies (new mtime) of every file in `source` inside `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        shutil.copy(path, target / path.name)
    return target


def test_mnist_from_shared_files(shared_data: Path, shared_mnist: Path) -> None:
    splits = load_dataset("mnist", data_dir=str(shared_data), download=False)
    assert list(splits) == ["train", "test"]
    train, test = splits["train"], splits["test"]
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and not train.binary
    assert train.labels is not None and test.labels is not None
    assert train.labels.dtype == torch.int64
    assert torch.bincount(test.labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009
    ]  # fmt: skip
    # well-known MNIST facts: the first training digit is a 5, the first test digit a 7
    assert int(train.labels[0]) == 5 and int(test.labels[0]) == 7
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0


def test_fashion_mnist_from_shared_files(shared_data: Path, shared_fashion: Path) -> None:
    splits = load_dataset("fashion-mnist", data_dir=str(shared_data), download=False)
    assert splits["train"].labels is not None and splits["test"].labels is not None
    assert torch.bincount(splits["train"].labels).tolist() == [6000] * 10
    assert torch.bincount(splits["test"].labels).tolist() == [1000] * 10
    assert splits["test"].images.shape == (10000, 1, 28, 28)
    assert splits["test"].name == "fashion-mnist/test"


def test_second_load_does_not_rehash(
    shared_data: Path, shared_mnist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_dataset("mnist", data_dir=str(shared_data), download=False)
    calls: list[str] = []
    real_digest = checksums.digest

    def counting_digest(data: bytes, algorithm: str) -> str:
        calls.append(algorithm)
        return real_digest(data, algorithm)

    monkeypatch.setattr(checksums, "digest", counting_digest)
    load_dataset("mnist", data_dir=str(shared_data), download=False)
    assert calls == []


def test_binarized_mnist_from_shared_files(shared_data: Path, shared_binarized: Path) -> None:
    splits = load_dataset("binarized-mnist", data_dir=str(shared_data), download=False)
    assert list(splits) == ["train", "valid", "test"]
    assert [len(data) for data in splits.values()] == [50000, 10000, 10000]
    for data in splits.values():
        assert data.binary and data.labels is None
        assert data.images.shape[1:] == (1, 28, 28)
        assert (int(data.images.min()), int(data.images.max())) == (0, 1)
        # README: about 13% of the pixels are 1
        ones = int(data.images.sum(dtype=torch.int64)) / data.images.numel()
        assert 0.12 < ones < 0.14


def test_raw_idx_files_in_vaelab_data_root(
    shared_data: Path, shared_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in MNIST_FILES:
        raw = gzip.decompress((shared_mnist / name).read_bytes())
        (tmp_path / name.removesuffix(".gz")).write_bytes(raw)
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path))
    unpacked = load_dataset("mnist", download=False)
    packed = load_dataset("mnist", data_dir=str(shared_data), download=False)
    assert torch.equal(unpacked["test"].images, packed["test"].images)
    assert torch.equal(unpacked["train"].labels, packed["train"].labels)


def test_recompressed_gzip_with_same_content_is_accepted(
    shared_mnist: Path, tmp_path: Path
) -> None:
    folder = copy_files(shared_mnist, tmp_path / "mnist")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes()), compresslevel=1))
    splits = load_dataset("mnist", data_dir=str(tmp_path), download=False)
    assert len(splits["test"]) == 10000


def test_checksum_mismatch_names_file_and_digests(shared_mnist: Path, tmp_path: Path) -> None:
    folder = copy_files(shared_mnist, tmp_path / "mnist")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # a wrong label, still a valid IDX file
    labels.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load_dataset("mnist", data_dir=str(tmp_path), download=False)
    message = str(info.value)
    assert str(labels) in message
    assert "ec29112dd5afa0611ce80d1b7f02629c" in message  # the expected MD5 of the .gz
    assert checksums.digest(labels.read_bytes(), "md5") in message
    assert "delete" in message


def test_corrupt_raw_file_fails_its_checksum(shared_mnist: Path, tmp_path: Path) -> None:
    copy_files(shared_mnist, tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    content = bytearray(gzip.decompress((shared_mnist / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    content[100] ^= 1
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(bytes(content))
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load_dataset("mnist", data_dir=str(tmp_path), download=False)
    assert str(raw) in str(info.value)
    assert "27ae3e4e09519cfbb04c329615203637" in str(info.value)


def test_truncated_file_raises_data_error(shared_mnist: Path, tmp_path: Path) -> None:
    folder = copy_files(shared_mnist, tmp_path / "mnist")
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz") as info:
        load_dataset("mnist", data_dir=str(tmp_path), download=False)
    assert "truncated" in str(info.value)


def test_missing_files_without_download_list_everything(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", data_dir=str(tmp_path), download=False)
    message = str(info.value)
    for name in MNIST_FILES:
        assert name.removesuffix(".gz") in message
    for folder in (tmp_path / "fashion_mnist", tmp_path, Path.home() / ".cache" / "vaelab"):
        assert f"  {folder}\n" in message
    assert "download=False" in message and "--data-dir" in message and "VAELAB_DATA" in message
    assert not (tmp_path / "fashion_mnist").exists()  # nothing is created without downloading


def test_offline_download_failure_is_one_clear_error(tmp_path: Path) -> None:
    # No VAELAB_MIRROR: the real mirrors are tried, but sockets are blocked in these tests.
    with pytest.raises(DataError, match="not found") as info:
        load_dataset("mnist", data_dir=str(tmp_path / "data"))
    message = str(info.value)
    assert "Downloading failed" in message and "ossci-datasets" in message
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


def test_download_from_file_mirror_lands_verified_files(
    shared_data: Path, shared_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_files(shared_mnist, tmp_path / "mirror" / "mnist")
    monkeypatch.setenv("VAELAB_MIRROR", (tmp_path / "mirror").as_uri())
    target = tmp_path / "data"
    splits = load_dataset("mnist", data_dir=str(target))
    assert sorted(p.name for p in (target / "mnist").iterdir()) == sorted(MNIST_FILES)
    for name in MNIST_FILES:
        assert (target / "mnist" / name).read_bytes() == (shared_mnist / name).read_bytes()
    reference = load_dataset("mnist", data_dir=str(shared_data), download=False)
    assert torch.equal(splits["test"].images, reference["test"].images)
    # once downloaded, the files are found without any mirror
    monkeypatch.setenv("VAELAB_MIRROR", (tmp_path / "nowhere").as_uri())
    assert len(load_dataset("mnist", data_dir=str(target))["train"]) == 60000


def test_download_rejects_corrupt_mirror_file(
    shared_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = copy_files(shared_mnist, tmp_path / "mirror")
    bad = mirror / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-10])
    monkeypatch.setenv("VAELAB_MIRROR", mirror.as_uri())
    with pytest.raises(DataError, match="train-labels-idx1-ubyte") as info:
        load_dataset("mnist", data_dir=str(tmp_path / "data"))
    assert "Downloading failed" in str(info.value)
    # the verified files were kept, the corrupt one left nothing behind (not even a temp file)
    landed = sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir())
    assert landed == sorted(set(MNIST_FILES) - {"train-labels-idx1-ubyte.gz"})


def test_download_goes_to_cache_and_falls_back_to_gz_names(
    isolated_env: Path, shared_binarized: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mirror holds only .amat.gz files, so each plain .amat request fails first. The train
    # file is already in the cache and its broken mirror copy must not be fetched.
    mirror = copy_files(shared_binarized, tmp_path / "mirror")
    (mirror / "binarized_mnist_train.amat.gz").write_bytes(b"")
    cache = isolated_env / ".cache" / "vaelab" / "binarized_mnist"
    cache.mkdir(parents=True)
    shutil.copy(shared_binarized / "binarized_mnist_train.amat.gz", cache)
    monkeypatch.setenv("VAELAB_MIRROR", mirror.as_uri())
    splits = load_dataset("binarized-mnist")
    assert sorted(p.name for p in cache.iterdir()) == [
        "binarized_mnist_test.amat.gz",
        "binarized_mnist_train.amat.gz",
        "binarized_mnist_valid.amat.gz",
    ]
    assert splits["valid"].binary and len(splits["test"]) == 10000
