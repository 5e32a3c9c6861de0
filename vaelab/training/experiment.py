"""Assemble an experiment from its config: the data splits and a fresh model.

This is the one place that ties an image experiment's config to concrete data and model builders;
the training loop itself receives a model and tensors and knows nothing about either. A kind whose
runs are image experiments with more to them (semi-supervised M2, M1+M2) rebuilds its runs with
`rebuild_run`, given its own builder and splits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from vaelab.data import DATASET_NAMES, DataError, split_off
from vaelab.data.catalog import EMBEDDED_NAME
from vaelab.data.errors import RunDataMissing
from vaelab.data.load import open_dataset
from vaelab.data.representation import check_fit, resolve_binarization, static_binarization
from vaelab.data.splits import SPLIT_SEED, Splits
from vaelab.data.streamed import materialize
from vaelab.distributions.families import make_family
from vaelab.models.base import LatentVariableModel
from vaelab.models.config import build_model as build_model_from_config
from vaelab.runs.checkpoint import CheckpointError, load_run_weights
from vaelab.runs.distributed import resolve_device
from vaelab.runs.files import CONFIG
from vaelab.training.config import DataConfig, ExperimentConfig

#: an experiment's splits for its config and data kind (`load_experiment_splits`, or a kind's own)
SplitsOf = Callable[[ExperimentConfig, str], Splits]
#: a fresh model for an experiment's config and image shape (`build_model`, or a kind's own)
Builder = Callable[[ExperimentConfig, tuple[int, ...]], LatentVariableModel]


def load_splits(config: DataConfig, data_kind: str, seed: int) -> Splits:
    """Load, split off validation data, and apply static binarization when asked for.

    Splits are made on row numbers before any image is read; the images are then read once,
    each straight into its split's uint8 tensor — or, with `config.stream`, left on disk.
    """
    splits = open_dataset(config.dataset, data_dir=config.data_dir, download=config.download,
                          image_size=config.image_size, seed=seed, stream=config.stream)
    train, test = splits["train"], splits["test"]
    valid = splits.get("valid")
    if valid is None and config.validation_size > 0:
        if config.validation_size >= len(train):
            raise ValueError(f"data.validation_size={config.validation_size} leaves no training "
                             f"data ({len(train)} examples)")
        train, valid = split_off(train, config.validation_size, SPLIT_SEED)
    if config.train_limit is not None and config.train_limit < len(train):
        train = train.subset(torch.arange(config.train_limit))
    binarization = resolve_binarization(config.binarization, config.dataset)
    if config.stream:
        check_fit(train, data_kind, binarization)
        if data_kind == "binary" and binarization == "static" and not train.binary:
            raise DataError("data.binarization='static' binarizes the images once, in memory; a "
                            "streamed dataset is binarized per batch: use --binarization dynamic, "
                            "or drop --stream")
        return Splits(train=train, valid=valid, test=test)
    loaded = materialize({"train": train, "test": test, **({} if valid is None else {"valid": valid})})
    train, test, valid = loaded["train"], loaded["test"], loaded.get("valid")
    check_fit(train, data_kind, binarization)
    if data_kind == "binary" and binarization == "static":
        train = static_binarization(train, seed)
        valid = static_binarization(valid, seed + 1) if valid is not None else None
        test = static_binarization(test, seed + 2)
    return Splits(train=train, valid=valid, test=test)


def load_experiment_splits(config: ExperimentConfig, data_kind: str) -> Splits:
    """The experiment's splits: `load_splits` of its [data] with its training seed."""
    return load_splits(config.data, data_kind, config.train.seed)


def build_model(config: ExperimentConfig, data_shape: tuple[int, ...]) -> LatentVariableModel:
    """A freshly initialised model for this experiment (seed the RNG first for repeatability)."""
    return build_model_from_config(config.model, data_shape)


def data_kind_of(config: ExperimentConfig) -> str:
    """What the configured likelihood models: "binary", "unit" or "byte"."""
    return make_family(config.model.likelihood).data_kind


def record_data(config: ExperimentConfig, splits: Splits) -> ExperimentConfig:
    """The config with what training learned about its data: the image shape the model is built
    for and the folder the files came from (see DataConfig)."""
    from vaelab.data.load import dataset_folder

    found_in = dataset_folder(config.data.dataset, config.data.data_dir) or config.data.found_in
    return replace(config, data=replace(config.data, image_shape=splits.train.image_shape,
                                        found_in=found_in))


def run_data(data: DataConfig, data_dir: str | None = None) -> DataConfig:
    """Where a trained run's data are read now. A built-in dataset: from `data_dir` when given
    (the folder of its files), else where the run names them, or, when they are not there (a
    relative --data-dir used from another folder), where training found them. Your own file or
    image folder: the first place of `user_data_places` that holds it (`data_dir`, as recorded,
    where training read it, $VAELAB_DATA)."""
    from vaelab.data.load import dataset_folder, locate_user_data

    if data.dataset == EMBEDDED_NAME:
        return data
    if data.dataset in DATASET_NAMES:
        if data_dir is not None:
            return replace(data, data_dir=data_dir)
        if (dataset_folder(data.dataset, data.data_dir) is None and data.found_in
                and dataset_folder(data.dataset, data.found_in) is not None):
            return replace(data, data_dir=data.found_in)
        return data
    found = locate_user_data(data.dataset, data_dir, data.found_in)
    return data if found is None else replace(data, dataset=str(found))


def _missing(data: DataConfig, data_dir: str | None, error: DataError) -> RunDataMissing | None:
    """The error to raise when a run's data could not be found (None when they were found, and
    `error` is about something else)."""
    from vaelab.data.load import dataset_folder, user_data_places

    hint = data.found_in or data.dataset
    if data.dataset == EMBEDDED_NAME:
        return None
    if data.dataset in DATASET_NAMES:
        if dataset_folder(data.dataset, data.data_dir) is not None:
            return None
        return RunDataMissing(str(error), f"this run was trained on files in {hint}")
    places = user_data_places(data.dataset, data_dir, data.found_in)
    if any(place.exists() for place in places):
        return None
    return RunDataMissing(f"{data.dataset}: not found at any of: {', '.join(map(str, places))}",
                          f"this run was trained on files in {hint}")


def load_run_splits(config: ExperimentConfig, data_dir: str | None = None,
                    splits_of: SplitsOf = load_experiment_splits) -> Splits:
    """A run's data splits (`splits_of`, by default `load_experiment_splits`), found by
    `run_data` (`data_dir`: where they are now, when they moved); when they cannot be found, the
    error (`RunDataMissing`) says where the run was trained from and how to point at the data."""
    data = run_data(config.data, data_dir)
    try:
        return splits_of(replace(config, data=data), data_kind_of(config))
    except DataError as error:
        missing = _missing(data, data_dir, error)
        if missing is None:
            raise
        raise missing from error


def run_config_path(run_dir: Path) -> Path:
    """RUN/config.json; CheckpointError when `run_dir` is no run folder."""
    if not (run_dir / CONFIG).is_file():
        raise CheckpointError(f"{run_dir} is not a vaelab run folder (no {CONFIG}); "
                              "pass the folder that `vaelab train` wrote")
    return run_dir / CONFIG


def rebuild_run(
    run_dir: Path, config: ExperimentConfig, build: Builder = build_model,
    splits_of: SplitsOf = load_experiment_splits, best: bool = True, device: str = "cpu",
    data: bool = True, data_dir: str | None = None,
) -> tuple[LatentVariableModel, ExperimentConfig, Splits | None]:
    """(model in eval mode, config, splits) of an image run whose config is `config`: the model
    from `build` with the run's weights (its best when present), the splits from `splits_of`
    (see `load_run_splits`); with `data=False` and a recorded image shape, no splits (None)."""
    shape = config.data.image_shape
    splits = load_run_splits(config, data_dir, splits_of) if data or shape is None else None
    model = build(config, shape if shape is not None else splits.train.image_shape)
    load_run_weights(run_dir, model, best)
    return model.to(resolve_device(device)).eval(), config, splits


def load_trained_model(
    run_dir: Path | str, best: bool = True, device: str = "cpu", data: bool = True,
    data_dir: str | None = None,
) -> tuple[LatentVariableModel, ExperimentConfig, Splits | None]:
    """Rebuild a VAE-family run's model from its saved config and weights (best weights when
    present); a run of another kind is rebuilt by its kind's `load` (`vaelab.kinds.load_run`).

    With `data=False` the model is rebuilt from the run folder alone (the image shape training
    recorded; runs from before that record still read their data) and no splits are returned:
    enough to sample, reconstruct or classify given images on a machine without the dataset.
    `data_dir`: where the run's data are now, when they moved (see `run_data`).
    """
    run_dir = Path(run_dir)
    config = ExperimentConfig.load(run_config_path(run_dir))
    return rebuild_run(run_dir, config, best=best, device=device, data=data, data_dir=data_dir)
