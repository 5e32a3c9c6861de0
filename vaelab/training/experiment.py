"""Assemble an experiment from its config: the data splits and a fresh model.

This is the one place that ties a config to concrete data and model builders; the training
loop itself receives a model and tensors and knows nothing about either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from vaelab.data import DATASET_NAMES, DataError, ImageSet, split_off
from vaelab.data.catalog import EMBEDDED_NAME
from vaelab.data.errors import RunDataMissing
from vaelab.data.labelled import UNLABELLED
from vaelab.data.load import open_dataset
from vaelab.data.representation import check_fit, resolve_binarization, static_binarization
from vaelab.data.splits import SPLIT_SEED, Splits
from vaelab.data.streamed import materialize
from vaelab.distributions.families import make_family
from vaelab.models.base import LatentVariableModel
from vaelab.models.config import build_model as build_model_from_config
from vaelab.objectives.registry import make_objective
from vaelab.objectives.result import ObjectiveValue
from vaelab.runs.checkpoint import CheckpointError, load_run_weights
from vaelab.runs.distributed import Distributed, resolve_device
from vaelab.runs.files import CONFIG
from vaelab.training.callbacks import Callback
from vaelab.training.config import ConfigError, DataConfig, ExperimentConfig
from vaelab.training.semisupervised import (
    ClassificationError,
    SemiSupervisedExperiment,
    build_semisupervised_model,
    load_experiment,
    make_semisupervised_objective,
    with_unlabelled,
)

Objective = Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue]

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
    """The experiment's splits (`load_splits`); a semi-supervised run's training split also
    holds its extra unlabelled images (label -1), when it names any."""
    if isinstance(config, SemiSupervisedExperiment) and config.data.stream:
        raise ConfigError("data.stream: semi-supervised models (m2, m1m2) train on data in memory; "
                          "drop --stream")
    splits = load_splits(config.data, data_kind, config.train.seed)
    if isinstance(config, SemiSupervisedExperiment):
        splits = replace(splits, train=with_unlabelled(config, splits.train, data_kind))
    return splits


def build_model(config: ExperimentConfig, data_shape: tuple[int, ...]) -> LatentVariableModel:
    """A freshly initialised model for this experiment (seed the RNG first for repeatability)."""
    if isinstance(config, SemiSupervisedExperiment):
        return build_semisupervised_model(config, data_shape)
    return build_model_from_config(config.model, data_shape)


def make_training_objective(
    config: ExperimentConfig, model: LatentVariableModel, splits: Splits, run_dir: Path,
    device: torch.device, named: Callable[..., Objective] = make_objective,
) -> Objective:
    """objective(model, x, kl_weight) for the loop: the configured bound from `named` (the
    loop passes its own factory of named bounds), or for a semi-supervised run the M2
    objective carrying the run's labelled subset."""
    if isinstance(config, SemiSupervisedExperiment):
        return make_semisupervised_objective(config, model, splits.train, run_dir, device)
    if not config.train.free_bits:
        return named(config.train.objective, config.train.samples)
    try:
        return named(config.train.objective, config.train.samples, config.train.free_bits)
    except ValueError as error:  # an objective without a KL term: name the config's field
        raise ConfigError(f"train.{error}") from error


def epoch_callbacks(config: ExperimentConfig, splits: Splits, context: Distributed | None = None,
                    ) -> list[Callback]:
    """What an epoch's record gains beyond the bounds: a semi-supervised run with labelled
    validation images records their classification error (`valid_error`), the curve its users
    watch; other runs add nothing."""
    valid = splits.valid
    if not (isinstance(config, SemiSupervisedExperiment) and isinstance(valid, ImageSet)
            and len(valid) > 0 and valid.labels is not None):
        return []
    return [ClassificationError(valid, SPLIT_SEED, context)]


def best_weights_score(config: ExperimentConfig, splits: Splits) -> str | None:
    """The record entry that picks the best weights when it is not the validation bound (lower
    is better; `TrainingTask.select_by`): the validation classification error of a
    semi-supervised run with `select_by = "error"`; None for every other run. Such a run without
    labelled validation images is refused, not quietly judged by its bound."""
    if not (isinstance(config, SemiSupervisedExperiment) and config.semisupervised.select_by == "error"):
        return None
    valid = splits.valid
    if not (isinstance(valid, ImageSet) and valid.labels is not None
            and bool((valid.labels != UNLABELLED).any())):
        raise ConfigError("semisupervised.select_by = 'error' (--select-by error) needs labelled "
                          "validation images; set data.validation_size > 0 (--validation-size) "
                          "or pick the weights by the bound")
    return "valid_error"


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


def load_run_splits(config: ExperimentConfig, data_dir: str | None = None) -> Splits:
    """A run's data splits, found by `run_data` (`data_dir`: where they are now, when they
    moved); when they cannot be found, the error (`RunDataMissing`) says where the run was
    trained from and how to point at the data."""
    data = run_data(config.data, data_dir)
    try:
        return load_experiment_splits(replace(config, data=data), data_kind_of(config))
    except DataError as error:
        missing = _missing(data, data_dir, error)
        if missing is None:
            raise
        raise missing from error


def load_trained_model(
    run_dir: Path | str, best: bool = True, device: str = "cpu", data: bool = True,
    data_dir: str | None = None,
) -> tuple[LatentVariableModel, ExperimentConfig, Splits | None]:
    """Rebuild a run's model from its saved config and weights (best weights when present).

    With `data=False` the model is rebuilt from the run folder alone (the image shape training
    recorded; runs from before that record still read their data) and no splits are returned:
    enough to sample, reconstruct or classify given images on a machine without the dataset.
    `data_dir`: where the run's data are now, when they moved (see `run_data`).
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise CheckpointError(f"{run_dir} is not a vaelab run folder (no {CONFIG}); "
                              "pass the folder that `vaelab train` wrote")
    config = load_experiment(run_dir / CONFIG)
    shape = config.data.image_shape
    splits = load_run_splits(config, data_dir) if data or shape is None else None
    model = build_model(config, shape if shape is not None else splits.train.image_shape)
    load_run_weights(run_dir, model, best)
    return model.to(resolve_device(device)).eval(), config, splits
