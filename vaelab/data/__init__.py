"""Data layer: datasets as uint8 ImageSets, seeded splits and binarization.

Named datasets (DATASET_NAMES) are the embedded mnist-5k sample, and MNIST, binarized MNIST
and Fashion-MNIST read from checksum-verified files (downloaded when missing). User data is a
folder of images or a .npy / .npz array file, read into memory as uint8 (`load_dataset`) or
left on disk and read a batch at a time (`open_dataset(..., stream=True)` -> StreamedImages).
Sequence data: the simulated `pendulum` (PendulumConfig -> SequenceSet splits, generated
offline and cached).
"""

from __future__ import annotations

from vaelab._lazy import lazy_exports

#: public name -> module that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "binarize": "vaelab.data.binarize",
    "DATASET_NAMES": "vaelab.data.catalog",
    "DataError": "vaelab.data.errors",
    "ImageSet": "vaelab.data.imageset",
    "load_dataset": "vaelab.data.load",
    "open_dataset": "vaelab.data.load",
    "StreamedImages": "vaelab.data.streamed",
    "materialize": "vaelab.data.streamed",
    "PendulumConfig": "vaelab.data.pendulum",
    "SequenceSet": "vaelab.data.pendulum",
    "cache_path": "vaelab.data.pendulum",
    "load_pendulum": "vaelab.data.pendulum",
    "simulate": "vaelab.data.pendulum",
    "resize_images": "vaelab.data.resize",
    "cache_root": "vaelab.data.roots",
    "data_roots": "vaelab.data.roots",
    "split_off": "vaelab.data.splits",
}

__all__ = [
    "DATASET_NAMES",
    "DataError",
    "ImageSet",
    "PendulumConfig",
    "SequenceSet",
    "StreamedImages",
    "binarize",
    "cache_path",
    "cache_root",
    "data_roots",
    "load_dataset",
    "load_pendulum",
    "materialize",
    "open_dataset",
    "resize_images",
    "simulate",
    "split_off",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
