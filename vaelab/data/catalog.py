"""The named datasets: their files, digests, mirrors and sizes (see shared/data/README.md)."""

from __future__ import annotations

from dataclasses import dataclass

from vaelab.choices import DATASET_NAMES as DATASET_NAMES
from vaelab.choices import EMBEDDED_NAME as EMBEDDED_NAME


@dataclass(frozen=True)
class RemoteFile:
    """One distributed file, known by its uncompressed name and two digests.

    A local copy may be the `.gz` file (checked against `gz_digest`, or its decompressed bytes
    against `raw_digest`) or the uncompressed file (checked against `raw_digest`).
    """

    name: str
    algorithm: str
    gz_digest: str
    raw_digest: str
    remote_names: tuple[str, ...]

    @property
    def local_names(self) -> tuple[str, str]:
        """Accepted file names on disk: uncompressed first (no decompression needed), then .gz."""
        return self.name, self.name + ".gz"


@dataclass(frozen=True)
class FileGroup:
    """The files of one named dataset, the subfolder they live in and where to download them."""

    dataset: str
    subdir: str
    mirrors: tuple[str, ...]
    files: dict[str, RemoteFile]


def _idx(name: str, gz_md5: str, raw_md5: str) -> RemoteFile:
    return RemoteFile(name, "md5", gz_md5, raw_md5, (name + ".gz",))


def _amat(name: str, gz_sha: str, raw_sha: str) -> RemoteFile:
    return RemoteFile(name, "sha256", gz_sha, raw_sha, (name, name + ".gz"))


MNIST = FileGroup(
    dataset="mnist",
    subdir="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    files={
        "train_images": _idx(
            "train-images-idx3-ubyte",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "6bbc9ace898e44ae57da46a324031adb",
        ),
        "train_labels": _idx(
            "train-labels-idx1-ubyte",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "a25bea736e30d166cdddb491f175f624",
        ),
        "test_images": _idx(
            "t10k-images-idx3-ubyte",
            "9fb629c4189551a2d022fa330f9573f3",
            "2646ac647ad5339dbf082846283269ea",
        ),
        "test_labels": _idx(
            "t10k-labels-idx1-ubyte",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "27ae3e4e09519cfbb04c329615203637",
        ),
    },
)

FASHION_MNIST = FileGroup(
    dataset="fashion-mnist",
    subdir="fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files={
        "train_images": _idx(
            "train-images-idx3-ubyte",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        ),
        "train_labels": _idx(
            "train-labels-idx1-ubyte",
            "25c81989df183df01b3e8a0aad5dffbe",
            "9018921c3c673c538a1fc5bad174d6f9",
        ),
        "test_images": _idx(
            "t10k-images-idx3-ubyte",
            "bef4ecab320f06d8554ea6380940ec79",
            "8181f5470baa50b63fa0f6fddb340f0a",
        ),
        "test_labels": _idx(
            "t10k-labels-idx1-ubyte",
            "bb300cfdad3c16e7a12a480ee83cd310",
            "15d484375f8d13e6eb1aabb0c3f46965",
        ),
    },
)

BINARIZED_MNIST = FileGroup(
    dataset="binarized-mnist",
    subdir="binarized_mnist",
    mirrors=("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",),
    files={
        "train": _amat(
            "binarized_mnist_train.amat",
            "af247bd6075cf9adc4715459dcd5f13eaa99a2c92d8d81379a05da94770b6c0e",
            "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
        ),
        "valid": _amat(
            "binarized_mnist_valid.amat",
            "533b71bc0198f4d73c54ae5fe6c96fc08dc3cf1b3fae24c5521dbc0452507e38",
            "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
        ),
        "test": _amat(
            "binarized_mnist_test.amat",
            "32a3c54d03504632bf9f131b4a148c7567aa6fc87da017049b044bdc14c2a0f2",
            "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
        ),
    },
)

FILE_GROUPS: dict[str, FileGroup] = {
    group.dataset: group for group in (MNIST, BINARIZED_MNIST, FASHION_MNIST)
}


SPLIT_SIZES: dict[str, dict[str, int]] = {
    "mnist": {"train": 60000, "test": 10000},
    "fashion-mnist": {"train": 60000, "test": 10000},
    "binarized-mnist": {"train": 50000, "valid": 10000, "test": 10000},
}
