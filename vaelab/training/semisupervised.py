"""Semi-supervised runs (M2, M1+M2): their config, model, labelled subset and objective.

A semi-supervised experiment is an ordinary experiment (model, data, train) plus a
`[semisupervised]` section. The training loop is the usual one: it iterates over every
training image as unlabelled data, while the objective carries the small labelled subset and
draws a labelled minibatch each step (objectives/semisupervised.py). The subset is balanced per
class, chosen by seed, and written to RUN/labelled.json, which a resumed or re-evaluated run reads
back, so the labels a run saw are part of the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from vaelab.data import DataError, ImageSet
from vaelab.data.labelled import UNLABELLED, balanced_subset, check_labels, infer_num_classes
from vaelab.data.representation import static_binarization, to_model_space
from vaelab.data.user_images import read_images
from vaelab.distributions.families import GaussianFamily, make_family
from vaelab.models.base import LatentVariableModel
from vaelab.models.config import ModelConfig, build_vae
from vaelab.models.m1m2 import StackedM1M2
from vaelab.models.m2 import M2Shape, build_m2
from vaelab.objectives.semisupervised import SemiSupervisedObjective, classification_weight
from vaelab.training.checkpoint import BEST_WEIGHTS, CONFIG, CheckpointError, atomic_write_text, load_weights
from vaelab.training.config import ConfigError, DataConfig, ExperimentConfig, TrainConfig
from vaelab.training.config_files import build_sections

KINDS = ("m2", "m1m2")
LABELLED_JSON = "labelled.json"
#: section name in config.json that marks a semi-supervised run
SECTION = "semisupervised"


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"semisupervised.{name}: {message}")


@dataclass(frozen=True)
class SemiSupervisedConfig:
    """What makes a run semi-supervised: the model kind, how many labels, and the M2 networks.

    kind "m2": M2 on the data; its z size, widths and likelihood come from `[model]`.
    kind "m1m2": `[model]` describes M1 (a VAE on all images); M2 models M1's latent means with a
    Gaussian likelihood, `m2_latent_dim` and `m2_hidden`. `m1_run` names a trained VAE run to use
    as M1; without it M1 is trained first, `m1_epochs` / `m1_time_budget_minutes`, into RUN/m1.
    `labels`: an integer N_l or "all". `alpha`: α = alpha · N as in the paper (w = α / N_l per
    labelled example). `classes`: C, or None to take largest label + 1 from the data.
    `unlabelled`: a folder of images or an .npy/.npz array of extra images without labels, added
    to the training split (their labels, if any, are ignored).
    """

    kind: str = "m2"
    labels: int | str = 100
    classes: int | None = None
    alpha: float = 0.1
    labelled_batch_size: int = 100
    classifier_hidden: tuple[int, ...] = (500,)
    m2_latent_dim: int = 50
    m2_hidden: tuple[int, ...] = (500,)
    m1_run: str | None = None
    m1_epochs: int = 50
    unlabelled: str | None = None
    m1_time_budget_minutes: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "classifier_hidden", tuple(int(h) for h in self.classifier_hidden))
        object.__setattr__(self, "m2_hidden", tuple(int(h) for h in self.m2_hidden))
        _require(self.kind in KINDS, "kind", f"{self.kind!r} is not one of {', '.join(KINDS)}")
        _require(self.labels == "all" or (isinstance(self.labels, int)
                                          and not isinstance(self.labels, bool)
                                          and self.labels >= 1),
                 "labels", f"must be a positive integer or 'all', got {self.labels!r}")
        _require(self.classes is None or self.classes >= 2, "classes",
                 f"must be >= 2, got {self.classes}")
        _require(self.alpha >= 0, "alpha", f"must be >= 0, got {self.alpha}")
        _require(self.labelled_batch_size >= 1, "labelled_batch_size",
                 f"must be >= 1, got {self.labelled_batch_size}")
        _require(all(h >= 1 for h in self.classifier_hidden), "classifier_hidden",
                 f"widths must be >= 1: {self.classifier_hidden}")
        _require(1 <= self.m2_latent_dim <= 4096, "m2_latent_dim",
                 f"must be in [1, 4096], got {self.m2_latent_dim}")
        _require(all(h >= 1 for h in self.m2_hidden), "m2_hidden", f"widths must be >= 1: {self.m2_hidden}")
        _require(self.m1_epochs >= 0, "m1_epochs", f"must be >= 0, got {self.m1_epochs}")
        _require(self.m1_time_budget_minutes >= 0, "m1_time_budget_minutes",
                 f"must be >= 0, got {self.m1_time_budget_minutes}")

    @property
    def label_count(self) -> int | None:
        """N_l, or None for every label."""
        return None if self.labels == "all" else int(self.labels)


@dataclass(frozen=True)
class SemiSupervisedExperiment(ExperimentConfig):
    """An experiment config with a `[semisupervised]` section; saved and loaded like any other."""

    semisupervised: SemiSupervisedConfig = field(default_factory=SemiSupervisedConfig)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> SemiSupervisedExperiment:
        sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig,
                    SECTION: SemiSupervisedConfig}
        return SemiSupervisedExperiment(**build_sections(raw, sections))

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> SemiSupervisedExperiment:
        merged = self.to_dict()
        for section, values in overrides.items():
            merged.setdefault(section, {}).update(values)
        return SemiSupervisedExperiment.from_dict(merged)

    @staticmethod
    def load(path: Path) -> SemiSupervisedExperiment:
        config = load_experiment(path)
        if not isinstance(config, SemiSupervisedExperiment):
            raise ConfigError(f"{path} has no [{SECTION}] section")
        return config

    def m1_config(self) -> ExperimentConfig:
        """The plain VAE experiment that trains M1 of an M1+M2 run."""
        train = replace(self.train, epochs=self.semisupervised.m1_epochs,
                        time_budget_minutes=self.semisupervised.m1_time_budget_minutes)
        return ExperimentConfig(model=self.model, data=self.data, train=train)


def semisupervised_experiment(base: ExperimentConfig | None = None,
                              semi: SemiSupervisedConfig | None = None) -> SemiSupervisedExperiment:
    """Combine an ordinary experiment config with a semi-supervised section."""
    base = base or ExperimentConfig()
    return SemiSupervisedExperiment(model=base.model, data=base.data, train=base.train,
                                    semisupervised=semi or SemiSupervisedConfig())


def load_experiment(path: Path) -> ExperimentConfig:
    """Read a run's config file as the right kind: semi-supervised when it has the section."""
    path = Path(path)
    if path.suffix == ".json" and path.is_file():
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ConfigError(f"cannot parse {path}: {error}") from error
        if isinstance(raw, dict) and SECTION in raw:
            return SemiSupervisedExperiment.from_dict(raw)
        return ExperimentConfig.from_dict(raw) if isinstance(raw, dict) else ExperimentConfig.load(path)
    if path.suffix == ".toml" and path.is_file():
        import tomllib

        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"cannot parse {path}: {error}") from error
        if SECTION in raw:
            return SemiSupervisedExperiment.from_dict(raw)
    return ExperimentConfig.load(path)


def is_semisupervised_run(run_dir: Path | str) -> bool:
    """Whether `run_dir` holds a run whose config has the semi-supervised section."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return False
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return isinstance(raw, dict) and SECTION in raw


def with_unlabelled(config: SemiSupervisedExperiment, train: ImageSet, data_kind: str) -> ImageSet:
    """The training split plus `semisupervised.unlabelled`'s images, labelled -1 (unlabelled).

    The extra images must have the training images' shape (`data.image_size` resizes both);
    for statically binarized training data they are binarized once too (seeded).
    """
    source = config.semisupervised.unlabelled
    if source is None:
        return train
    images, _, binary = read_images([Path(source)], config.data.image_size)
    if tuple(images.shape[1:]) != train.image_shape:
        raise DataError(f"semisupervised.unlabelled: {source} holds images of shape "
                        f"{tuple(images.shape[1:])}, the training images are {train.image_shape}")
    extra = ImageSet(images, torch.full((images.shape[0],), UNLABELLED, dtype=torch.long),
                     binary, f"{Path(source).name}")
    if data_kind == "binary" and train.binary and not binary:
        extra = static_binarization(extra, config.train.seed + 3)
    labels = train.labels if train.labels is not None else torch.full(
        (len(train),), UNLABELLED, dtype=torch.long)
    return ImageSet(torch.cat([train.images, extra.images.to(train.images.device)]),
                    torch.cat([labels, extra.labels]), train.binary and extra.binary, train.name)


def build_semisupervised_model(config: SemiSupervisedExperiment,
                               data_shape: tuple[int, ...]) -> LatentVariableModel:
    """A fresh M2 (or M1+M2, with an untrained M1) for images of `data_shape`; needs C known."""
    semi, model = config.semisupervised, config.model
    if semi.classes is None:
        raise ConfigError("semisupervised.classes: the number of classes must be known to build "
                          "the model (resolve it from the data first)")
    if semi.kind == "m2":
        family = make_family(model.likelihood, model.fixed_scale)
        shape = M2Shape(semi.classes, model.latent_dim, model.hidden, semi.classifier_hidden,
                        model.activation)
        return build_m2(shape, data_shape, family, 1.0 / 255.0 if family.data_kind == "byte" else 1.0)
    if model.architecture != "mlp" and model.upper_latents:
        raise ConfigError("model: M1 must be a single-latent VAE")
    m1 = build_vae(model, data_shape)
    shape = M2Shape(semi.classes, semi.m2_latent_dim, semi.m2_hidden, semi.classifier_hidden,
                    model.activation)
    return StackedM1M2(m1, build_m2(shape, (model.latent_dim,), GaussianFamily(bound_log_scale=True)))


def resolve_classes(config: SemiSupervisedExperiment, train: ImageSet) -> SemiSupervisedExperiment:
    """The config with C filled in from the training labels (and the labels checked)."""
    classes = config.semisupervised.classes or infer_num_classes(train.labels, train.name)
    check_labels(train.labels, classes, f"dataset {train.name!r}")
    return replace(config, semisupervised=replace(config.semisupervised, classes=classes))


def labelled_subset(config: SemiSupervisedExperiment, train: ImageSet,
                    run_dir: Path | None = None) -> torch.Tensor:
    """Positions in the training split of the labelled examples.

    Read from RUN/labelled.json when the run has one (the labels it trained with); otherwise
    chosen by `balanced_subset` with the training seed and, given `run_dir`, written there.
    """
    semi = config.semisupervised
    assert semi.classes is not None
    path = None if run_dir is None else Path(run_dir) / LABELLED_JSON
    if path is not None and path.is_file():
        saved = json.loads(path.read_text())
        index = torch.tensor(saved["indices"], dtype=torch.long)
        if index.numel() and int(index.max()) >= len(train):
            raise CheckpointError(f"{path} names examples beyond the {len(train)} training images")
        return index
    check_labels(train.labels, semi.classes, f"dataset {train.name!r}")
    assert train.labels is not None
    index = balanced_subset(train.labels, semi.label_count, semi.classes, config.train.seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        counts = torch.bincount(train.labels[index], minlength=semi.classes).tolist()
        atomic_write_text(path, json.dumps({
            "labels": semi.labels, "classes": semi.classes, "seed": config.train.seed,
            "per_class": counts, "indices": index.tolist(),
            "targets": train.labels[index].tolist()}) + "\n")
    return index


def make_semisupervised_objective(config: SemiSupervisedExperiment, model: LatentVariableModel,
                                  train: ImageSet, run_dir: Path | None,
                                  device: torch.device) -> SemiSupervisedObjective:
    """The objective the loop calls: the run's labelled subset, the per-example weight
    w = α / N_l (α = alpha · N) and the unlabelled share N_u / N. For M1+M2 starting afresh,
    M1's trained weights are loaded."""
    index = labelled_subset(config, train, run_dir)
    assert train.labels is not None
    if isinstance(model, StackedM1M2):
        load_m1(config, model)
    weight = classification_weight(len(train), index.numel(), config.semisupervised.alpha)
    data_kind = model.data_kind

    def prepare(images: torch.Tensor) -> torch.Tensor:
        return to_model_space(images, train.binary, data_kind)

    return SemiSupervisedObjective(train.images[index].to(device), train.labels[index].to(device),
                                   weight, config.semisupervised.labelled_batch_size, prepare,
                                   unlabelled_weight=(len(train) - index.numel()) / len(train))


def m1_weights_path(config: SemiSupervisedExperiment) -> Path:
    """M1's best weights file, from `semisupervised.m1_run`."""
    if config.semisupervised.m1_run is None:
        raise ConfigError("semisupervised.m1_run: an M1+M2 run needs a trained M1 run folder")
    run = Path(config.semisupervised.m1_run)
    path = run / BEST_WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"M1 run {run} has no {BEST_WEIGHTS}; train it first "
                              "(`vaelab train ...`) or leave out --m1-run")
    return path


def load_m1(config: SemiSupervisedExperiment, model: StackedM1M2) -> None:
    """Copy the trained M1's weights into the stacked model's (frozen) M1."""
    load_weights(m1_weights_path(config), model.m1)


def check_m1_matches(config: SemiSupervisedExperiment, m1: ExperimentConfig) -> None:
    """ConfigError unless an existing M1 run was trained on the same data with M1's model."""
    if m1.model != config.model:
        raise ConfigError(f"semisupervised.m1_run: its model config {asdict(m1.model)} differs "
                          f"from this run's [model] {asdict(config.model)}")
    if (m1.data.dataset, m1.data.image_size) != (config.data.dataset, config.data.image_size):
        raise ConfigError(f"semisupervised.m1_run was trained on {m1.data.dataset!r}, this run "
                          f"uses {config.data.dataset!r}")


#: paper settings a `--model m2|m1m2` run starts from (Kingma et al. 2014), under the user's own
KIND_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "m2": {"model": {"latent_dim": 50, "hidden": (500,)},
           "train": {"batch_size": 100, "learning_rate": 3e-4, "epochs": 100}},
    "m1m2": {"model": {"latent_dim": 50, "hidden": (600, 600)},
             "train": {"batch_size": 100, "learning_rate": 3e-4, "epochs": 100}},
}


def default_experiment(kind: str) -> SemiSupervisedExperiment:
    """The paper's starting point for `kind`, before config files and flags."""
    _require(kind in KINDS, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    base = ExperimentConfig().with_overrides(KIND_DEFAULTS[kind])
    return semisupervised_experiment(base, SemiSupervisedConfig(kind=kind))
