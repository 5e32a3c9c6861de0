"""Data layer: datasets as uint8 ImageSets, seeded splits and binarization.

Named datasets (DATASET_NAMES) are the embedded mnist-5k sample, and MNIST, binarized MNIST
and Fashion-MNIST read from checksum-verified files (downloaded when missing). User data is a
folder of images or a .npy / .npz array file. Sequence data: the simulated `pendulum`
(PendulumConfig -> SequenceSet splits, generated offline and cached).
"""

from vaelab.data.binarize import binarize
from vaelab.data.catalog import DATASET_NAMES
from vaelab.data.errors import DataError
from vaelab.data.imageset import ImageSet
from vaelab.data.load import load_dataset
from vaelab.data.pendulum import PendulumConfig, SequenceSet, cache_path, load_pendulum, simulate
from vaelab.data.resize import resize_images
from vaelab.data.roots import cache_root, data_roots
from vaelab.data.splits import split_off

__all__ = [
    "DATASET_NAMES",
    "DataError",
    "ImageSet",
    "PendulumConfig",
    "SequenceSet",
    "binarize",
    "cache_path",
    "cache_root",
    "data_roots",
    "load_dataset",
    "load_pendulum",
    "resize_images",
    "simulate",
    "split_off",
]
