"""Training on data larger than memory: uint8 in memory, or streamed from disk with the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data import DataError, open_dataset
from vaelab.runs.distributed import Distributed
from vaelab.training import ExperimentConfig
from vaelab.training.batches import image_batches, streamed_batches
from vaelab.training.config import ConfigError
from vaelab.training.experiment import load_splits
from vaelab.training.loop import fit

RNG = np.random.default_rng(7)
SINGLE = Distributed(rank=0, world_size=1, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "images.npy"
    np.save(path, RNG.integers(0, 256, (90, 8, 8, 3), dtype=np.uint8))
    return path


def config(dataset: Path, **data: object) -> ExperimentConfig:
    return ExperimentConfig().with_overrides({
        "model": {"latent_dim": 3, "hidden": (16,), "likelihood": "gaussian"},
        "data": {"dataset": str(dataset), "validation_size": 20, **data},
        "train": {"epochs": 1, "batch_size": 16, "device": "cpu", "seed": 4},
    })


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def test_in_memory_training_images_stay_uint8(images: Path) -> None:
    splits = load_splits(config(images).data, "unit", 0)
    batches = image_batches(splits.train, "unit", 16, 0, torch.device("cpu"))
    assert batches.data.dtype == torch.uint8
    assert batches.data.data_ptr() == splits.train.images.data_ptr()  # the loaded tensor, not a copy
    assert splits.valid is not None and splits.valid.images.dtype == torch.uint8
    batch, _ = next(iter(batches.epoch(0, SINGLE)))
    assert batch.dtype == torch.float32 and batch.max() <= 1.0


@pytest.mark.parametrize("kind", ["unit", "binary"])
def test_streamed_batches_are_the_in_memory_batches(images: Path, kind: str) -> None:
    streamed = open_dataset(str(images), seed=0, stream=True)["train"]
    in_memory = streamed.load()
    a = image_batches(in_memory, kind, 16, 3, torch.device("cpu")).epoch(1, SINGLE)
    b = streamed_batches(streamed, kind, 16, 3, torch.device("cpu")).epoch(1, SINGLE)
    for (x, n), (y, m) in zip(a, b, strict=True):
        assert n == m and torch.equal(x, y)


def test_a_streamed_npy_trains_to_the_in_memory_numbers(images: Path, tmp_path: Path) -> None:
    fit(config(images), tmp_path / "memory", progress=False)
    fit(config(images, stream=True), tmp_path / "stream", progress=False)
    assert records(tmp_path / "stream") == records(tmp_path / "memory")
    saved = json.loads((tmp_path / "stream" / "config.json").read_text())
    assert saved["data"]["stream"] is True


def test_an_image_folder_streams_through_dataloader_workers(tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").save(folder / f"{i:02d}.png")
    streamed = open_dataset(str(folder), seed=0, stream=True)["train"]
    workers = streamed_batches(streamed, "unit", 8, 1, torch.device("cpu"), workers=1)
    in_memory = image_batches(streamed.load(), "unit", 8, 1, torch.device("cpu"))
    pairs = list(zip(workers.epoch(0, SINGLE), in_memory.epoch(0, SINGLE), strict=True))
    assert len(pairs) == 5 and all(torch.equal(x, y) for (x, _), (y, _) in pairs)
    fit(config(folder, stream=True, workers=1, validation_size=8), tmp_path / "run", progress=False)
    assert len(records(tmp_path / "run")) == 1


def test_streaming_refuses_static_binarization(images: Path) -> None:
    bernoulli = config(images, stream=True, binarization="static").with_overrides(
        {"model": {"likelihood": "bernoulli"}})
    with pytest.raises(DataError, match="static"):
        load_splits(bernoulli.data, "binary", 0)


def test_workers_must_be_a_sensible_count_and_need_streaming() -> None:
    with pytest.raises(ConfigError, match="data.workers"):
        ExperimentConfig().with_overrides({"data": {"workers": -1, "stream": True}})
    with pytest.raises(ConfigError, match="only when streaming"):
        ExperimentConfig().with_overrides({"data": {"workers": 2}})


def test_vaelab_fit_streams_with_the_numbers_of_memory(images: Path, tmp_path: Path) -> None:
    import vaelab
    from vaelab.models import ModelConfig, build_vae

    streamed = vaelab.open_dataset(str(images), seed=0, stream=True)
    histories = []
    for name, train, valid in (("stream", streamed["train"], streamed["test"]),
                               ("memory", streamed["train"].load(), streamed["test"].load())):
        torch.manual_seed(0)
        model = build_vae(ModelConfig(hidden=(16,), latent_dim=3, likelihood="gaussian"), (3, 8, 8))
        run = vaelab.fit(model, train, valid=valid, epochs=1, batch_size=16, run_dir=tmp_path / name,
                         device="cpu", progress=False, log=lambda _: None)
        histories.append([{k: v for k, v in r.items() if k != "seconds"} for r in run.history])
    assert histories[0] == histories[1]
