"""Training semi-supervised runs (M2, M1+M2, ADGM, SDGM): their data, model, labelled subset, objective,
training task and loader (configs: semisupervised_experiment).

A semi-supervised experiment is an ordinary image experiment (model, data, train) plus a
`[semisupervised]` section. Its training is the one loop of vaelab.training.engine with the image
task of vaelab.training.loop (`image_task`): it iterates over every training image as unlabelled
data, while the objective carries the small labelled subset and draws a labelled minibatch each
step (objectives/semisupervised.py). The subset is balanced per class, chosen by seed, and
written to RUN/labelled.json, which a resumed or re-evaluated run reads back, so the labels a run
saw are part of the run. Each epoch's record gains the validation classification error
(`ClassificationError`), which may pick the best weights (`semisupervised.select_by`).
`fit_semisupervised` trains a run end to end: C from the data, M1 first for M1+M2, then M2.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vaelab.atomic_files import atomic_write_text
from vaelab.data import DataError, ImageSet
from vaelab.data.labelled import UNLABELLED, balanced_subset, check_labels, infer_num_classes
from vaelab.data.representation import static_binarization, to_model_space
from vaelab.data.splits import SPLIT_SEED, Splits
from vaelab.data.user_images import read_images
from vaelab.distributions.families import GaussianFamily, make_family
from vaelab.evaluation.calibration import BINS, bin_sums, ece_of
from vaelab.kinds.semisupervised_experiment import AUXILIARY_KINDS, SemiSupervisedExperiment
from vaelab.models.base import LatentVariableModel
from vaelab.models.config import build_vae
from vaelab.models.m1m2 import StackedM1M2
from vaelab.models.m2 import M2Shape, build_m2
from vaelab.objectives.semisupervised import SemiSupervisedObjective, classification_weight, m2_view
from vaelab.runs.checkpoint import CheckpointError, LoopState, load_weights
from vaelab.runs.distributed import Distributed, restarted_by_launcher
from vaelab.runs.distributed import setup as setup_distributed
from vaelab.runs.files import BEST_WEIGHTS, CHECKPOINT, CONFIG, LABELLED_JSON
from vaelab.runs.log import print_now
from vaelab.training.callbacks import Callback
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.engine import TrainingTask, run_training
from vaelab.training.experiment import (
    data_kind_of,
    load_splits,
    rebuild_run,
    record_data,
    run_config_path,
)
from vaelab.training.loop import fit, image_task, settings_of

if TYPE_CHECKING:
    from vaelab.training.engine import Loop

#: RUN/m1: where an M1+M2 run without `m1_run` trains its M1
M1_FOLDER = "m1"


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


def load_semisupervised_splits(config: SemiSupervisedExperiment, data_kind: str) -> Splits:
    """The experiment's splits (`load_splits`), the training split holding the extra unlabelled
    images (label -1) when the run names any (`with_unlabelled`). Refuses streamed data."""
    if config.data.stream:
        raise ConfigError("data.stream: semi-supervised models (m2, m1m2, adgm, sdgm) train on data "
                          "in memory; drop --stream")
    splits = load_splits(config.data, data_kind, config.train.seed)
    train = with_unlabelled(config, splits.train, data_kind)
    return replace(splits, train=train, valid=with_validation_labels(config, splits.valid, train))


#: added to the training seed to choose the validation labels a run may use
VALIDATION_LABELS_SEED = 1


def with_validation_labels(config: SemiSupervisedExperiment, valid: ImageSet | None,
                           train: ImageSet) -> ImageSet | None:
    """The validation split keeping only `semisupervised.validation_labels` of its labels
    (balanced per class, chosen by the training seed; the others become unlabelled, −1), so
    the labels a run uses beyond its training labels are the ones counted in its budget.
    DataError when more are asked for than the validation images hold, or fewer than one per
    class (0 is allowed: no validation labels)."""
    count = config.semisupervised.validation_label_count
    if count is None or valid is None or valid.labels is None:
        return valid
    kept = torch.full_like(valid.labels, UNLABELLED)
    if count > 0:
        classes = config.semisupervised.classes or infer_num_classes(train.labels, train.name)
        try:
            index = balanced_subset(valid.labels, count, classes,
                                    config.train.seed + VALIDATION_LABELS_SEED, "validation")
        except DataError as error:
            raise DataError(f"semisupervised.validation_labels = {count}: {error}") from error
        kept[index] = valid.labels[index]
    return ImageSet(valid.images, kept, valid.binary, valid.name)


def label_budget(splits: Splits, labelled: int) -> dict[str, int]:
    """The labels a run uses: `labelled` training labels, the validation images that keep a
    label, and their sum."""
    valid = splits.valid
    held_out = 0
    if isinstance(valid, ImageSet) and valid.labels is not None:
        held_out = int((valid.labels != UNLABELLED).sum())
    return {"training": labelled, "validation": held_out, "total": labelled + held_out}


def budget_text(budget: dict[str, int]) -> str:
    """"100 training labels + 500 validation labels = 600 labels in all"."""
    return (f"{budget['training']} training labels + {budget['validation']} validation labels = "
            f"{budget['total']} labels in all")


def build_semisupervised_model(config: SemiSupervisedExperiment,
                               data_shape: tuple[int, ...]) -> LatentVariableModel:
    """A fresh M2, ADGM or SDGM (or M1+M2, with an untrained M1) for images of `data_shape`;
    needs C known."""
    semi, model = config.semisupervised, config.model
    if semi.classes is None:
        raise ConfigError("semisupervised.classes: the number of classes must be known to build "
                          "the model (resolve it from the data first)")
    if semi.kind != "m1m2":
        family = make_family(model.likelihood, model.fixed_scale)
        auxiliary = semi.kind if semi.kind in AUXILIARY_KINDS else None
        shape = M2Shape(semi.classes, model.latent_dim, model.hidden, semi.classifier_hidden,
                        model.activation, auxiliary, semi.auxiliary_dim)
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


@torch.no_grad()
def held_out_counts(model: LatentVariableModel, images: ImageSet, seed: int,
                    context: Distributed | None = None,
                    batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The confusion matrix [C, C] (counts[true, predicted]) of argmax q(y | x) and the
    calibration bin sums [3, BINS] (`vaelab.evaluation.calibration.bin_sums`) over the labelled
    held-out images, None when none carries a label. Grey images meeting a Bernoulli likelihood
    are binarized from `seed` (the same sample every epoch); with a distributed `context` each
    rank scores every world_size-th image and the counts are summed."""
    if images.labels is None:
        return None
    device = next(model.parameters()).device
    rank, world = (context.rank, context.world_size) if context is not None else (0, 1)
    rows = torch.arange(rank, len(images), world)
    rows = rows[images.labels[rows] != UNLABELLED]
    fixed = torch.Generator(device=device).manual_seed(seed + rank)
    was_training = model.training
    model.eval()
    classes = int(model.num_classes)
    confusion = torch.zeros(classes * classes, dtype=torch.float64, device=device)
    sums = torch.zeros(3, BINS, dtype=torch.float64, device=device)
    for start in range(0, rows.shape[0], batch_size):
        index = rows[start:start + batch_size]
        x = to_model_space(images.images[index].to(device), images.binary, model.data_kind, fixed)
        m2, h = m2_view(model, x)
        probs = m2.classifier(h).probs
        labels = images.labels[index].to(device)
        confusion.index_add_(0, labels * classes + probs.argmax(-1),
                             torch.ones(index.numel(), dtype=torch.float64, device=device))
        sums += bin_sums(probs, labels)
    model.train(was_training)
    if context is not None:
        confusion, sums = context.sum(confusion), context.sum(sums)
    if float(confusion.sum()) == 0:
        return None
    return confusion.reshape(classes, classes).cpu(), sums.cpu()


def held_out_error(model: LatentVariableModel, images: ImageSet, seed: int,
                   context: Distributed | None = None, batch_size: int = 1000) -> float | None:
    """Share of the labelled held-out images whose most probable class under q(y | x) is wrong
    (None when none carries a label): the classification curve a run's epochs record
    (`held_out_counts`)."""
    counts = held_out_counts(model, images, seed, context, batch_size)
    if counts is None:
        return None
    return share_wrong(counts[0])


def share_wrong(confusion: torch.Tensor) -> float:
    """The error of a confusion matrix: off-diagonal counts over all counts."""
    total = confusion.sum()
    return float((total - confusion.diagonal().sum()) / total)


def collapsed_classes(confusion: torch.Tensor, labelled_share: torch.Tensor) -> list[int]:
    """The classes whose share of the predictions (confusion [true, predicted]) is below half
    their share of the labelled training examples: a class the classifier has given up on."""
    predicted = confusion.sum(0) / confusion.sum().clamp_min(1)
    return [int(c) for c in (predicted < 0.5 * labelled_share).nonzero().flatten()]


class ClassificationError(Callback):
    """Records the held-out classification error `valid_error` (before validation, so it can pick
    the best weights), the per-class errors `valid_per_class_error`, the confusion matrix
    `valid_confusion` (rows: true class), the expected calibration error `valid_ece` and the
    `collapsed_classes` (`collapsed_classes`) in every epoch's record; the progress line shows the
    error and warns of a collapsed class: the curve a semi-supervised run's users watch."""

    def __init__(self, images: ImageSet, seed: int, context: Distributed | None = None,
                 labelled_share: torch.Tensor | None = None) -> None:
        self.images, self.seed, self.context = images, seed, context
        self.labelled_share = labelled_share

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        counts = held_out_counts(loop.kept_model, self.images, self.seed, self.context)
        if counts is None:
            record["valid_error"] = None
            return
        confusion, sums = counts
        per_class = confusion.sum(1)
        record["valid_error"] = share_wrong(confusion)
        record["valid_per_class_error"] = [None if int(n) == 0 else 1.0 - float(confusion[c, c]) / float(n)
                                           for c, n in enumerate(per_class)]
        record["valid_confusion"] = confusion.long().tolist()
        record["valid_ece"] = ece_of(sums)
        if self.labelled_share is not None:
            record["collapsed_classes"] = collapsed_classes(confusion, self.labelled_share)

    def describe(self, record: dict[str, Any]) -> str:
        error = record.get("valid_error")
        if error is None:
            return ""
        text = f"  valid error {100 * error:.2f} %"
        if record.get("valid_ece") is not None:
            text += f"  ECE {record['valid_ece']:.3f}"
        collapsed = record.get("collapsed_classes") or []
        if collapsed:
            several = len(collapsed) > 1
            text += (f"  WARNING: class{'es' if several else ''} {', '.join(map(str, collapsed))} "
                     f"collapsed (predicted for under half {'their' if several else 'its'} share "
                     "of the labels)")
        return text


def error_callbacks(splits: Splits, context: Distributed | None = None,
                    labelled_share: torch.Tensor | None = None) -> list[Callback]:
    """`ClassificationError` when the run has labelled validation images (the `valid_error`
    curve its users watch; `labelled_share`, each class's share of the labelled training
    examples, lets it warn of a collapsed class); none otherwise."""
    valid = splits.valid
    if not (isinstance(valid, ImageSet) and len(valid) > 0 and valid.labels is not None):
        return []
    return [ClassificationError(valid, SPLIT_SEED, context, labelled_share)]


def best_weights_score(config: SemiSupervisedExperiment, splits: Splits) -> str | None:
    """The record entry that picks the best weights (`TrainingTask.select_by`): the validation
    classification error with `select_by = "error"`, else None (the validation bound). Such a run
    without labelled validation images is refused, not quietly judged by its bound; so is one
    that would fit a temperature on them (`calibrate`), before it trains rather than after."""
    valid = splits.valid
    labelled = (isinstance(valid, ImageSet) and valid.labels is not None
                and bool((valid.labels != UNLABELLED).any()))
    if config.semisupervised.calibrate and not labelled:
        raise ConfigError("semisupervised.calibrate (--calibrate) fits a temperature on labelled "
                          "validation images and this run has none; set data.validation_size > 0 "
                          "(--validation-size) or leave it off (--no-calibrate)")
    if config.semisupervised.select_by != "error":
        return None
    if not labelled:
        raise ConfigError("semisupervised.select_by = 'error' (--select-by error) needs labelled "
                          "validation images; set data.validation_size > 0 (--validation-size) "
                          "or pick the weights by the bound (--select-by bound)")
    return "valid_error"


#: training images from which M1's active dimensions are judged
ACTIVE_PROBE = 1000


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
        model.sample_features = config.semisupervised.m1_features == "sample"
        if model.sample_features:
            probe = train.images[:ACTIVE_PROBE].to(device)
            model.mark_active(to_model_space(probe, train.binary, model.data_kind))
    weight = classification_weight(len(train), index.numel(), config.semisupervised.alpha)
    data_kind = model.data_kind

    def prepare(images: torch.Tensor) -> torch.Tensor:
        return to_model_space(images, train.binary, data_kind)

    return SemiSupervisedObjective(train.images[index].to(device), train.labels[index].to(device),
                                   weight, config.semisupervised.labelled_batch_size, prepare,
                                   unlabelled_weight=(len(train) - index.numel()) / len(train),
                                   class_balance=config.semisupervised.class_balance)


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


def semisupervised_task(config: SemiSupervisedExperiment, model: LatentVariableModel, splits: Splits,
                        run_dir: Path, context: Distributed) -> TrainingTask:
    """What the training loop needs for M2 (or M2 over a trained M1): the image task
    (`image_task`) with the semi-supervised objective, the validation error in every record and,
    with `select_by = "error"`, that error picking the best weights."""
    objective = make_semisupervised_objective(config, model, splits.train, run_dir, context.device)
    counts = torch.bincount(objective.labels.cpu(), minlength=int(model.num_classes)).double()
    return image_task(config, model, splits, objective, context,
                      select_by=best_weights_score(config, splits),
                      callbacks=error_callbacks(splits, context, counts / counts.sum()))


def fit_m2(config: SemiSupervisedExperiment, run_dir: Path, resume: bool = False,
           progress: bool = True, log: Callable[[str], None] | None = None,
           callbacks: Sequence[Callback] = (), more_time: str | None = None,
           ) -> tuple[LatentVariableModel, LoopState]:
    """Train (or continue) the M2 of a run whose classes (and, for M1+M2, trained M1) are known;
    returns model and state. `callbacks` run at the loop's named moments; `more_time` says how
    to train further once the time budget is used up (see `run_training`)."""
    train_cfg = config.train
    context = setup_distributed(train_cfg.device)
    torch.manual_seed(train_cfg.seed)
    splits = load_semisupervised_splits(config, data_kind_of(config))
    config = record_data(config, splits)
    model = build_semisupervised_model(config, splits.train.image_shape).to(context.device)
    task = semisupervised_task(config, model, splits, Path(run_dir), context)
    loop = run_training(task, settings_of(config), Path(run_dir), context, resume=resume,
                        progress=progress, log=log, callbacks=callbacks,
                        more_time=more_time)
    return model, loop


def fit_semisupervised(config: SemiSupervisedExperiment, run_dir: Path, resume: bool = False,
                       progress: bool = True, log: Callable[[str], None] | None = None,
                       more_time: str | None = None) -> SemiSupervisedExperiment:
    """Train (or resume) the run in `run_dir`; returns the config as saved (C and M1 filled in).

    An M1+M2 run without `m1_run` first trains M1 — a VAE on every training image, the
    experiment's [model], `m1_epochs` / `m1_time_budget_minutes` — into RUN/m1 (continuing it if
    a previous attempt was interrupted), then trains M2 on M1's features (`fit_m2`).
    `more_time` says how to train M2 further once its time budget is used up.
    """
    log = log or print_now
    run_dir = Path(run_dir)
    if not resume and restarted_by_launcher() and (run_dir / CHECKPOINT).exists():
        # torchrun re-ran the fresh command after a failure: continue M2 with the saved config
        # (classes and M1 filled in), as the training loop does for any other run
        config, resume = SemiSupervisedExperiment.load(run_dir / CONFIG), True
    if not resume:
        if (run_dir / CHECKPOINT).exists():
            raise FileExistsError(f"{run_dir} already holds a run; use --resume {run_dir} to "
                                  "continue it or choose another --run-dir")
        splits = load_semisupervised_splits(config, data_kind_of(config))
        best_weights_score(config, splits)  # refused here, before M1 trains, if it cannot work
        config = resolve_classes(config, splits.train)
        semi = config.semisupervised
        if semi.kind == "m1m2":
            config = m1_ready(config, run_dir, progress, log)
        index = labelled_subset(config, splits.train)  # (its file is written when training starts)
        budget = budget_text(label_budget(splits, int(index.numel())))
        log(f"{semi.kind}: {budget}, {config.semisupervised.classes} classes -> {run_dir}")
    fit_m2(config, run_dir, resume=resume, progress=progress, log=log, more_time=more_time)
    return config


def m1_ready(config: SemiSupervisedExperiment, run_dir: Path, progress: bool,
             log: Callable[[str], None]) -> SemiSupervisedExperiment:
    """The config of an M1+M2 run with a trained M1: `m1_run` checked when given; otherwise M1
    trained (or continued) into RUN/m1 and named there."""
    semi = config.semisupervised
    if semi.m1_run is None:
        m1_dir = (run_dir / M1_FOLDER).resolve()
        log(f"M1: a VAE on every training image -> {m1_dir}")
        fit(config.m1_config(), m1_dir, resume=(m1_dir / CHECKPOINT).is_file(),
            progress=progress, log=log, more_time="M1 stops there; M2 trains on it next")
        return replace(config, semisupervised=replace(semi, m1_run=str(m1_dir)))
    m1_dir = Path(semi.m1_run)
    if not (m1_dir / CONFIG).is_file():
        raise CheckpointError(f"M1 run {m1_dir} is not a vaelab run folder (no {CONFIG})")
    check_m1_matches(config, ExperimentConfig.load(m1_dir / CONFIG))
    if not (m1_dir / BEST_WEIGHTS).is_file():
        raise CheckpointError(f"M1 run {m1_dir} has no {BEST_WEIGHTS}")
    return config


def load_semisupervised_run(
    run_dir: Path | str, best: bool = True, device: str = "cpu", data: bool = True,
    data_dir: str | None = None,
) -> tuple[LatentVariableModel, SemiSupervisedExperiment, Splits | None]:
    """Rebuild a semi-supervised run's model from its config and weights (best weights when
    present); with `data=False` from the run folder alone (splits None). `data_dir`: where the
    run's data are now, when they moved (see `vaelab.training.experiment.run_data`)."""
    run_dir = Path(run_dir)
    config = SemiSupervisedExperiment.load(run_config_path(run_dir))
    model, _, splits = rebuild_run(run_dir, config, build_semisupervised_model,
                                   load_semisupervised_splits,
                                   best=best, device=device, data=data, data_dir=data_dir)
    return model, config, splits


__all__ = [
    "ClassificationError",
    "best_weights_score",
    "build_semisupervised_model",
    "error_callbacks",
    "fit_m2",
    "fit_semisupervised",
    "collapsed_classes",
    "held_out_counts",
    "held_out_error",
    "label_budget",
    "labelled_subset",
    "load_semisupervised_run",
    "load_semisupervised_splits",
    "make_semisupervised_objective",
    "resolve_classes",
    "semisupervised_task",
    "with_unlabelled",
    "with_validation_labels",
]
