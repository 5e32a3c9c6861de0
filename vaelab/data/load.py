"""load_dataset: one entry point for named datasets and user folders / array files."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path

from vaelab.data.array_files import ALL, open_array_file
from vaelab.data.benchmarks import load_benchmark
from vaelab.data.catalog import DATASET_NAMES, EMBEDDED_NAME
from vaelab.data.errors import DataError
from vaelab.data.image_folder import open_image_folder
from vaelab.data.imageset import ImageSet
from vaelab.data.mnist5k import load_mnist5k
from vaelab.data.resize import check_image_size, resize_images
from vaelab.data.roots import env_roots
from vaelab.data.splits import split_off
from vaelab.data.streamed import StreamedImages, materialize

TEST_FRACTION = 0.1
ARRAY_SUFFIXES = (".npy", ".npz")


def load_dataset(
    source: str,
    data_dir: str | None = None,
    download: bool = True,
    image_size: int | None = None,
    seed: int = 0,
) -> dict[str, ImageSet]:
    """Splits of a named dataset or user path: always "train" and "test", plus "valid" when the
    dataset defines one.

    `source` is one of DATASET_NAMES (a name wins over a same-named path; write `./mnist` for
    the folder), a folder of images, or a `.npy` / `.npz` file. `data_dir` and `download` only
    matter for the downloadable datasets. `image_size` resizes every image to a square of that
    side. User data without splits has 10% (at least one image) held out as "test" by
    `split_off(..., seed=seed)`; the named datasets ignore `seed`. User files are read straight
    into one uint8 tensor per split (no other copy of the data is made).
    """
    return materialize(open_dataset(source, data_dir, download, image_size, seed))


def open_dataset(
    source: str,
    data_dir: str | None = None,
    download: bool = True,
    image_size: int | None = None,
    seed: int = 0,
    stream: bool = False,
) -> dict[str, StreamedImages]:
    """The splits of `load_dataset`, not yet read: `StreamedImages` whose images a DataLoader
    reads a batch at a time (or `materialize` reads into memory). With `stream`, user data must
    be a `.npy` file or a folder of images, and are checked without being held in memory; the
    named datasets are small and always come from memory.
    """
    check_image_size(image_size)
    if source == EMBEDDED_NAME:
        splits = load_mnist5k()
    elif source in DATASET_NAMES:
        splits = load_benchmark(source, data_dir, download)
    else:
        return _open_user(source, image_size, seed, stream)
    if image_size is not None:
        splits = {
            split: dataclasses.replace(
                data, images=resize_images(data.images, image_size, data.binary)
            )
            for split, data in splits.items()
        }
    return {split: StreamedImages.of(data) for split, data in splits.items()}


def _open_user(source: str, image_size: int | None, seed: int, stream: bool) -> dict[str, StreamedImages]:
    path = Path(source).expanduser()
    if path.is_dir():
        splits = {ALL: open_image_folder(path, image_size, stream)}
    elif path.is_file() and path.suffix.lower() in ARRAY_SUFFIXES:
        splits = open_array_file(path, image_size, stream)
    elif path.is_file():
        raise DataError(
            f"{path}: unsupported file type {path.suffix!r}; give a folder of images "
            f"(.png/.jpg/.jpeg), a .npy or a .npz file, or one of {', '.join(DATASET_NAMES)}"
        )
    else:
        close = difflib.get_close_matches(source, DATASET_NAMES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(
            f"unknown dataset {source!r}: not a known name ({', '.join(DATASET_NAMES)}) and no "
            f"such file or folder.{hint}"
        )
    if "test" in splits:
        return splits
    base = splits.pop(ALL if ALL in splits else "train")
    if len(base) < 2:
        raise DataError(
            f"{path}: {len(base)} image(s) is too few to hold out a test split; need at least 2"
        )
    held = max(1, int(len(base) * TEST_FRACTION))
    rest, test = split_off(base, held, seed)
    stem = path.stem if path.is_file() else path.name
    return {
        "train": dataclasses.replace(rest, name=f"{stem}/train"),
        **splits,
        "test": dataclasses.replace(test, name=f"{stem}/test"),
    }


def user_data_places(source: str, data_dir: str | None = None, recorded: str | None = None) -> list[Path]:
    """Where your own data file or image folder `source` (as a run recorded it) may be now, in
    the order looked at: in `data_dir` (by the path as given, then by its name), as given
    (relative to here), at `recorded` (where training read it), then in each $VAELAB_DATA folder."""
    path = Path(source).expanduser()

    def inside(root: Path) -> list[Path]:
        return ([] if path.is_absolute() else [root / path]) + [root / path.name]

    places = inside(Path(data_dir).expanduser()) if data_dir else []
    places.append(path)
    if recorded:
        places.append(Path(recorded))
    for root in env_roots():
        places += inside(root)
    return list(dict.fromkeys(places))


def locate_user_data(source: str, data_dir: str | None = None, recorded: str | None = None) -> Path | None:
    """The first of `user_data_places` that exists, or None."""
    return next((place for place in user_data_places(source, data_dir, recorded) if place.exists()), None)


def dataset_folder(source: str, data_dir: str | None = None) -> str | None:
    """The folder a dataset's files are read from (None for the embedded subset): for a named
    benchmark the folder holding its files, for user data the file or folder itself."""
    if source == EMBEDDED_NAME:
        return None
    if source in DATASET_NAMES:
        from vaelab.data.catalog import FILE_GROUPS
        from vaelab.data.fetch import resolve_files

        try:
            paths = resolve_files(FILE_GROUPS[source], data_dir, download=False)
        except DataError:
            return None
        return str(next(iter(paths.values())).resolve().parent)
    return str(Path(source).resolve())
