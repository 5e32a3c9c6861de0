"""Typed config of a semi-supervised run (M2, M1+M2, ADGM, SDGM): the VAE sections plus
[semisupervised].

Kept apart from the training code (semisupervised_training) so configs and the command line can
read and validate them without loading torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from vaelab.settings import Help, OneOf, Range, check, require, widths
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.config_files import MAX_EPOCHS, saved_config

KINDS = ("m2", "m1m2", "adgm", "sdgm")
#: the kinds with an auxiliary variable a (Maaløe et al. 2016)
AUXILIARY_KINDS = ("adgm", "sdgm")
#: what M2 of an M1+M2 run trains on: M1's posterior means or draws from the posterior
M1_FEATURES = ("mean", "sample")
#: what picks a run's best weights: the validation classification error or the validation bound
SELECT_BY = ("error", "bound")
#: section name in config.json that marks a semi-supervised run
SECTION = "semisupervised"


def labels_or_all(text: str) -> int | str:
    """A number of labels, or "all"."""
    if text == "all":
        return "all"
    try:
        return int(text)
    except ValueError as error:
        raise ValueError(f"expected a number of labels or 'all', got {text!r}") from error


@dataclass(frozen=True)
class SemiSupervisedConfig:
    """What makes a run semi-supervised: the model kind, how many labels, and the M2 networks.

    kind "m2": M2 on the data; its z size, widths and likelihood come from `[model]`.
    kind "adgm" / "sdgm": M2 with an auxiliary variable a of `auxiliary_dim` (Maaløe et al. 2016;
    ADGM: p(a | x, y, z), SDGM: p(a | y, z) and p(x | a, y, z)); q(a | x), p(a | ·) have `[model]`'s
    widths, the classifier q(y | a, x) `classifier_hidden`.
    kind "m1m2": `[model]` describes M1 (a VAE on all images); M2 models M1's latent means with a
    Gaussian likelihood, `m2_latent_dim` and `m2_hidden`. `m1_run` names a trained VAE run to use
    as M1; without it M1 is trained first, `m1_epochs` / `m1_time_budget_minutes`, into RUN/m1.
    `labels`: an integer N_l or "all". `alpha`: α = alpha · N as in the paper (w = α / N_l per
    labelled example). `classes`: C, or None to take largest label + 1 from the data.
    `validation_labels`: how many validation images keep their label (balanced per class, chosen
    by the seed; "all" = every one): the labels the run may use beyond `labels` — for the
    validation error, `select_by = "error"`, the class-collapse warning and `calibrate` — counted
    in the run's label budget. `calibrate`: fit a temperature T on those validation labels
    (q(y | x)^(1/T), renormalised) at evaluation; the report and `classify` then use it and the
    expected calibration error is reported before and after.
    `unlabelled`: a folder of images or an .npy/.npz array of extra images without labels, added
    to the training split (their labels, if any, are ignored). `m1_features`: what M2 trains on,
    M1's posterior "mean" or a fresh "sample" of q(z₁ | x) per step (Kingma et al.'s code; new
    M1+M2 runs default to it, runs saved without the field keep "mean"). `select_by`: what picks
    the best weights (model_best.safetensors, which evaluation and classification load) and counts
    `train.patience`: the validation "bound" (default; smooth) or the validation classification
    "error" (the first epoch with the lowest; on a small validation set it follows its noise).
    """

    kind: Annotated[str, OneOf(KINDS)] = "m2"
    labels: Annotated[int | str, Help(
        "labelled training images, balanced per class and chosen by --seed; 'all' = supervised",
        metavar="N|all", parse=labels_or_all)] = 100
    classes: Annotated[int | None, Range(2), Help(
        "number of classes (default: largest label + 1)")] = None
    alpha: Annotated[float, Range(0), Help(
        "α = ALPHA·N, the weight of the classification term (paper: 0.1); per labelled example "
        "α / N_labels")] = 0.1
    class_balance: Annotated[float, Range(0, note="0 = off"), Help(
        "λ, the weight of KL(the unlabelled batch's mean q(y | x) ‖ p(y)) in the loss: holds the "
        "predicted class shares to the prior so that no class collapses (not in the papers; "
        "adgm: 10 by default, the other kinds 0)")] = 0.0
    labelled_batch_size: Annotated[int, Range(1), Help(
        "labelled examples drawn per step beside each unlabelled batch")] = 100
    classifier_hidden: Annotated[tuple[int, ...], Range(1), Help(
        "hidden widths of q(y|x)", parse=widths)] = (500,)
    auxiliary_dim: Annotated[int, Range(1, 4096), Help("adgm, sdgm: size of the auxiliary variable a")] = 100
    validation_labels: Annotated[int | str, Help(
        "validation images whose labels the run may use (balanced per class, chosen by --seed), "
        "counted in its label budget; 'all' = every one", metavar="N|all",
        parse=labels_or_all)] = "all"
    calibrate: Annotated[bool, Help(
        "fit a temperature on the validation labels at evaluation (temperature scaling); the "
        "report and classify use it, ECE is reported before and after (adgm, sdgm: on by "
        "default, off in a run without labelled validation images)", negatable=True)] = False
    m2_latent_dim: Annotated[int, Range(1, 4096), Help("m1m2: size of M2's z")] = 50
    m2_hidden: Annotated[tuple[int, ...], Range(1), Help(
        "m1m2: hidden widths of M2's networks", parse=widths)] = (500,)
    m1_run: str | None = None
    m1_epochs: Annotated[int, Range(0, MAX_EPOCHS), Help("m1m2: epochs of M1 training")] = 50
    unlabelled: str | None = None
    m1_time_budget_minutes: Annotated[float, Range(0), Help(
        "m1m2: time budget of M1 training, before and apart from --time-budget; without "
        "--m1-epochs it alone sets M1's length (0 = off)", flag="m1-time-budget",
        metavar="MINUTES")] = 0.0
    m1_features: Annotated[str, OneOf(M1_FEATURES), Help(
        "m1m2: what M2 trains on: M1's posterior means, or a fresh draw from the posterior each "
        "step (Kingma et al.'s code; evaluation uses the means)")] = "mean"
    select_by: Annotated[str, OneOf(SELECT_BY), Help(
        "what picks the best weights (and counts --patience): the validation classification error "
        "or the validation bound (a run without labelled validation images that did not ask for "
        "'error' uses the bound)")] = "bound"

    def __post_init__(self) -> None:
        check(self, SECTION)
        require(self.labels == "all" or (isinstance(self.labels, int) and not isinstance(self.labels, bool)
                                         and self.labels >= 1),
                SECTION, "labels", f"must be a positive integer or 'all', got {self.labels!r}")
        require(self.validation_labels == "all"
                or (isinstance(self.validation_labels, int) and not isinstance(self.validation_labels, bool)
                    and self.validation_labels >= 0),
                SECTION, "validation_labels",
                f"must be an integer >= 0 or 'all', got {self.validation_labels!r}")

    @property
    def label_count(self) -> int | None:
        """N_l, or None for every label."""
        return None if self.labels == "all" else int(self.labels)

    @property
    def validation_label_count(self) -> int | None:
        """Validation labels the run may use, or None for every one."""
        return None if self.validation_labels == "all" else int(self.validation_labels)


@dataclass(frozen=True)
class SemiSupervisedExperiment(ExperimentConfig):
    """An experiment config with a `[semisupervised]` section; saved and loaded like any other."""

    semisupervised: SemiSupervisedConfig = field(default_factory=SemiSupervisedConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.model.posterior == "diagonal", "model", "posterior",
                "the semi-supervised models (m2, m1m2, adgm, sdgm) have diagonal Gaussian guides: "
                "posterior = 'diagonal'")
        require(not self.train.free_bits, "train", "free_bits",
                "the semi-supervised objective has no free-bits floor: free_bits = 0")

    @classmethod
    def load(cls, path: Path) -> SemiSupervisedExperiment:
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
    return SECTION in (saved_config(run_dir) or {})


#: the ADGM's class-share weight λ (`class_balance`): without it one of its three 40-minute seeds
#: gave up the 5s (bench/README.md, issue 27)
ADGM_CLASS_BALANCE = 10.0

#: settings a `--model m2|m1m2` run starts from: the papers' (Kingma et al. 2014; Adam 3e-4,
#: batches of 100), under the user's own. ADGM / SDGM start from the settings of issue 27's CPU
#: benchmark rows (bench/README.md; configs/{adgm,sdgm}-mnist-100.toml): a and z of 50 and one
#: hidden layer of 500 everywhere (0.17 s a step on one thread against 0.30 s for Maaløe et al.'s
#: 100 / 500-500), Adam 1e-3 with the KL warmed up over 2,000 steps, the weights averaged (EMA
#: 0.999), a step with a non-finite gradient skipped, the epoch with the lowest validation error
#: kept and a temperature fitted on the validation labels (the ADGM also holds its class shares
#: to p(y), ADGM_CLASS_BALANCE); the paper's sizes are flags
#: (`--latent-dim 100 --auxiliary-dim 100 --hidden 500,500 --classifier-hidden 500,500 --lr 3e-4`).
KIND_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "m2": {"model": {"latent_dim": 50, "hidden": (500,)},
           "train": {"batch_size": 100, "learning_rate": 3e-4, "epochs": 100}},
    "m1m2": {"model": {"latent_dim": 50, "hidden": (600, 600)},
             "train": {"batch_size": 100, "learning_rate": 3e-4, "epochs": 100}},
    **{kind: {"model": {"latent_dim": 50, "hidden": (500,)},
              "train": {"batch_size": 100, "learning_rate": 1e-3, "epochs": 100,
                        "kl_warmup_steps": 2000, "ema_decay": 0.999,
                        "grad_skip": float("inf")},  # skip a non-finite step, no other
              "semisupervised": {"classifier_hidden": (500,), "auxiliary_dim": 50,
                                 "select_by": "error", "calibrate": True,
                                 **({"class_balance": ADGM_CLASS_BALANCE} if kind == "adgm" else {})}}
       for kind in AUXILIARY_KINDS},
}


def default_experiment(kind: str) -> SemiSupervisedExperiment:
    """The starting point of a `kind` run (KIND_DEFAULTS), before config files and flags."""
    require(kind in KINDS, SECTION, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    defaults = dict(KIND_DEFAULTS[kind])
    semi = defaults.pop(SECTION, {})
    base = ExperimentConfig().with_overrides(defaults)
    features = "sample" if kind == "m1m2" else "mean"
    return semisupervised_experiment(base, SemiSupervisedConfig(kind=kind, m1_features=features, **semi))
