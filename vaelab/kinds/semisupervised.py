"""Semi-supervised classifiers as a kind: M2 and M1+M2 (Kingma et al. 2014) and the auxiliary
deep generative models ADGM and SDGM (Maaløe et al. 2016), `--model m2|m1m2|adgm|sdgm`.

Config: `SemiSupervisedExperiment` (the VAE sections plus [semisupervised];
kinds/semisupervised_experiment.py); builder `build_semisupervised_model`; data the image splits
plus a balanced labelled subset saved in RUN/labelled.json; objective `SemiSupervisedObjective`
(labelled and unlabelled terms); training `fit_semisupervised` (M1 first for M1+M2, then the one
loop with the kind's own task; kinds/semisupervised_training.py); evaluation
`evaluate_semisupervised_run` (test error, confusion matrix, calibration, the unlabelled bound,
IS log p(x)).
Its config.json holds a [semisupervised] section. `vaelab classify` lives in
vaelab/cli/semisupervised_commands.py.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vaelab.choices import EVALUATION_SEED
from vaelab.kinds.flags import add_flags, common_flags, defaults, flags_of
from vaelab.kinds.flags import overrides as flag_overrides
from vaelab.kinds.image_runs import explore_session, reconstruct, report  # noqa: F401 - commands
from vaelab.kinds.semisupervised_experiment import (
    AUXILIARY_KINDS,
    SECTION,
    SemiSupervisedConfig,
    SemiSupervisedExperiment,
    default_experiment,
    load_experiment,
)
from vaelab.kinds.vae import (
    already_evaluated,
    announce_budget,
    budget_flag,
    epochs_done,
    given,
    more_time,
    note_default_dataset,
    note_own_validation_split,
    print_evaluation,
    refuse_changes_on_resume,
    refuse_ignored_settings,
    refuse_unusable_data,
    relaunch_with_torchrun,
    sample_images,
    train_until_budget,
    with_image_defaults,
)
from vaelab.kinds.vae import overrides as vae_overrides
from vaelab.runs.files import CONFIG
from vaelab.training.config import ConfigError, ExperimentConfig
from vaelab.training.config_files import MAX_EPOCHS, read_config_file
from vaelab.training.run_folder import default_run_dir

#: flags that only mean something to --model m1m2 (their help shows only its default)
M1M2_ONLY = {"m2_latent_dim", "m2_hidden", "m1_epochs", "m1_time_budget_minutes", "m1_features"}
#: flags that only mean something to --model adgm | sdgm
AUXILIARY_ONLY = {"auxiliary_dim"}
#: what a resumed semi-supervised run may change
RESUMABLE = {"epochs", "time_budget_minutes"}


def flag_defaults(model: str) -> dict[str, Any]:
    """Each `vaelab train` flag's default for --model m2 / m1m2 / adgm / sdgm (KIND_DEFAULTS)."""
    own = {dest: where for dest, where in flags_of(SemiSupervisedConfig, SECTION).items()
           if (model == "m1m2" or dest not in M1M2_ONLY)
           and (model in AUXILIARY_KINDS or dest not in AUXILIARY_ONLY)}
    return defaults(default_experiment(model).to_dict(), {**common_flags(), **own})


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """The `vaelab train` flags of `--model m2|m1m2|adgm|sdgm`."""
    g = parser.add_argument_group(
        "semi-supervised (--model m2 | m1m2 | adgm | sdgm; Kingma et al. 2014, Maaløe et al. 2016)",
        "M2 learns q(y|x) from a few labels and every unlabelled image; m1m2 runs M2 on the "
        "latent means of an M1 VAE ([model] flags then describe M1); adgm and sdgm add an "
        "auxiliary variable a (classifier q(y|a,x)).")
    add_flags(g, SemiSupervisedConfig, SECTION)
    g.add_argument("--unlabelled", type=Path, metavar="PATH",
                   help="extra images without labels (a folder of images or an .npy/.npz array) "
                        "added to the training images")
    g.add_argument("--m1-run", type=Path, metavar="RUN",
                   help="m1m2: a trained VAE run to use as M1 (else M1 is trained first, in RUN/m1)")


def _semi_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return flag_overrides(args, flags_of(SemiSupervisedConfig, SECTION)).get(SECTION, {})


def semisupervised_config(args: argparse.Namespace,
                          overrides: dict[str, dict[str, Any]]) -> SemiSupervisedExperiment:
    """The kind's defaults (KIND_DEFAULTS), then what --config FILE sets, then flags."""
    from vaelab.runs.checkpoint import CheckpointError

    config = default_experiment(args.model)
    chosen: set[str] = set(_semi_overrides(args))  # semi-supervised settings the user set
    if args.config is not None:
        load_experiment(args.config)  # refuses an unknown key or a bad value, naming it
        written = read_config_file(args.config)
        semi = written.get(SECTION)
        if semi is not None and semi.get("kind", args.model) != args.model:
            raise ConfigError(f"{args.config} describes a {semi['kind']!r} run but --model is "
                              f"{args.model!r}")
        config = config.with_overrides(written)  # what the file sets, over the kind's defaults
        chosen |= set(written.get(SECTION, {}))
    semi = {**_semi_overrides(args), "kind": args.model}
    if args.unlabelled is not None:
        if not args.unlabelled.exists():
            raise ConfigError(f"--unlabelled {args.unlabelled}: no such file or folder")
        semi["unlabelled"] = str(args.unlabelled.resolve())
    if args.m1_run is not None:
        if args.model != "m1m2":
            raise ConfigError("--m1-run belongs to --model m1m2")
        m1_dir = args.m1_run.resolve()
        if not (m1_dir / CONFIG).is_file():
            raise CheckpointError(f"--m1-run {args.m1_run} is not a vaelab run folder (no {CONFIG})")
        m1 = ExperimentConfig.load(m1_dir / CONFIG)
        if "model" in overrides:
            raise ConfigError("with --m1-run, M1's [model] comes from that run; drop the model flags")
        overrides = {**overrides, "model": asdict(m1.model)}
        semi["m1_run"] = str(m1_dir)
    config = config.with_overrides({**overrides, SECTION: semi})
    return without_validation_defaults(config, chosen)


def without_validation_defaults(config: SemiSupervisedExperiment,
                                chosen: set[str]) -> SemiSupervisedExperiment:
    """A run with no labelled validation images cannot pick its weights by the validation error
    or fit a temperature: where those came from the kind's defaults (ADGM, SDGM), not from the
    user, such a run picks by the bound and stays uncalibrated instead of being refused."""
    if config.data.validation_size > 0 and config.semisupervised.validation_labels != 0:
        return config
    off = {"select_by": "bound", "calibrate": False}
    return config.with_overrides({SECTION: {k: v for k, v in off.items() if k not in chosen}})


def train(args: argparse.Namespace) -> int:
    """`vaelab train --model m2|m1m2|adgm|sdgm ...` and `vaelab train --resume RUN` of such a run."""
    from vaelab.evaluation.classification import evaluate_semisupervised_run
    from vaelab.kinds.semisupervised_training import fit_semisupervised
    from vaelab.runs.checkpoint import refuse_fewer_epochs
    from vaelab.runs.distributed import launched_by_torchrun, main_process_after_training

    if args.nproc is not None and not launched_by_torchrun():
        return relaunch_with_torchrun(args)
    overrides = vae_overrides(args)
    if args.resume is not None:
        refuse_changes_on_resume(
            args, overrides, RESUMABLE, "--epochs and --time-budget",
            also=[f"semisupervised.{name}" for name in _semi_overrides(args)]
            + (["--unlabelled"] if args.unlabelled is not None else [])
            + (["--m1-run"] if args.m1_run is not None else []))
        run_dir = args.resume
        config = SemiSupervisedExperiment.load(run_dir / CONFIG).with_overrides(overrides)
        refuse_fewer_epochs(run_dir, config.train.epochs, f"--epochs {config.train.epochs}")
        config.save(run_dir / CONFIG)
        resume = True
    else:
        config = semisupervised_config(args, overrides)
        config = train_until_budget(config, config.train.time_budget_minutes,
                                    given(args, overrides, "train", "epochs"))
        semi = config.semisupervised
        if semi.m1_time_budget_minutes > 0 and not given(args, {SECTION: _semi_overrides(args)},
                                                         SECTION, "m1_epochs"):
            config = config.with_overrides({SECTION: {"m1_epochs": MAX_EPOCHS}})  # M1 likewise
        refuse_unusable_data(config.data.dataset, config.data.data_dir)
        refuse_ignored_settings(config)
        note_default_dataset(args, config.data.dataset)
        note_own_validation_split(overrides, config.data.dataset)
        run_dir = args.run_dir or default_run_dir(config.data.dataset)
        resume = False
    epochs_before = epochs_done(run_dir) if resume else -1
    semi = config.semisupervised
    trains_m1 = not resume and semi.kind == "m1m2" and semi.m1_run is None
    if trains_m1:
        announce_budget(semi.m1_time_budget_minutes, "--m1-time-budget", semi.m1_epochs, False,
                        "M1's training", "--m1-epochs")
    flag = budget_flag(args)
    announce_budget(config.train.time_budget_minutes, flag, config.train.epochs, not args.no_eval,
                    "M2's training (M1 trains first, outside it)" if trains_m1 else "training")
    fit_semisupervised(config, run_dir, resume, not args.no_progress,
                       more_time=more_time(run_dir, flag))
    if not main_process_after_training():
        return 0
    if not args.no_eval and not already_evaluated(run_dir, epochs_before):
        metrics = evaluate_semisupervised_run(run_dir, load, k=config.train.eval_samples,
                                              examples=config.train.eval_examples,
                                              device=config.train.device, seed=EVALUATION_SEED,
                                              progress=False if args.no_progress else None)
        print(summary_line(metrics))
    print(f"run folder: {run_dir.resolve()}")
    return 0


def summary_line(metrics: dict) -> str:
    """Test error, the labels it took, calibration and the unlabelled bound, in one line."""
    found = metrics["classification"]
    error = found["error"]
    test = metrics["test"]
    budget = (f"{metrics['labels']} labels" if "label_budget" not in metrics else
              f"{metrics['labels']} training + {metrics['validation_labels']} validation labels")
    return (f"test error {100 * error['mean']:.2f}% ± {100 * error['stderr']:.2f} over "
            f"{found['examples']} test images ({budget}){calibration_text(found)}; "
            f"unlabelled bound ({test['bound_of']}) {test['elbo']['mean']:.2f} ± "
            f"{test['elbo']['stderr']:.2f} nats{auxiliary_text(found)}")


def auxiliary_text(found: dict) -> str:
    """A warning when an ADGM / SDGM's auxiliary variable goes unused (see
    `vaelab.evaluation.auxiliary_use`); "" otherwise."""
    from vaelab.evaluation.auxiliary_use import idle_text

    use = found.get("auxiliary_use")
    if not use or not use["unused"]:
        return ""
    return (f"; WARNING: the auxiliary variable a goes unused (I(y; a | x) "
            f"{use['classifier_information']:.3f} nats; E[a | x] moves across images by "
            f"{use['spread']:.3f} of q(a | x)'s scale{idle_text(use)}): the model classifies as M2 "
            "would, at a higher cost a step")


def calibration_text(found: dict) -> str:
    """", ECE 0.071 (mean confidence 0.93)" and, with temperature scaling, the ECE after it."""
    calibration = found.get("calibration")
    if calibration is None:
        return ""
    text = f", ECE {calibration['ece']:.3f} (mean confidence {calibration['mean_confidence']:.3f})"
    scaled = found.get("temperature_scaling")
    if scaled is not None and scaled["temperature"] != scaled.get("fitted_temperature",
                                                                 scaled["temperature"]):
        text += (f"; no temperature scaling: the T = {scaled['fitted_temperature']:.2f} fitted on "
                 f"{scaled['validation_labels']} validation labels would raise their ECE "
                 f"({scaled['validation_ece_before']:.3f} -> {scaled['validation_ece_fitted']:.3f})")
    elif scaled is not None:
        text += (f", after temperature scaling (T = {scaled['temperature']:.2f}, fitted on "
                 f"{scaled['validation_labels']} validation labels) ECE {scaled['test_ece_after']:.3f}")
    return text


def evaluate(args: argparse.Namespace) -> int:
    """`vaelab evaluate RUN` for a semi-supervised run."""
    from vaelab.evaluation.classification import evaluate_semisupervised_run
    from vaelab.runs.evaluations import output_lines

    with_image_defaults(args)
    if args.samples < 1 or args.examples < 0:
        raise ConfigError("-k must be >= 1 and --examples >= 0")
    if args.compare_estimators or args.ais_examples or args.bdmc is not None:
        raise ConfigError("--compare-estimators, --ais-examples and --bdmc are for single-model runs; a "
                          "semi-supervised run reports error, the unlabelled bound and IS log p")
    def lines(metrics: dict[str, Any]) -> list[str]:
        matrix = metrics["classification"]["confusion_matrix"]
        return ["confusion matrix (rows: true class, columns: predicted):",
                "      " + " ".join(f"{c:5d}" for c in range(len(matrix))),
                *(f"  {c:3d} " + " ".join(f"{v:5d}" for v in row) for c, row in enumerate(matrix)),
                summary_line(metrics), *output_lines(metrics)]

    print_evaluation(args, lambda: evaluate_semisupervised_run(
        args.run, load, k=args.samples, examples=args.examples, device=args.device, seed=args.seed,
        progress=False if args.no_progress else None, data_dir=args.data_dir,
        calibrate=True if args.calibrate else None), lines)
    return 0


def sample(args: argparse.Namespace) -> int:
    """`vaelab sample RUN`: images from the prior, or with --class C images of class C in random
    styles z ~ p(z)."""
    import torch

    from vaelab.evaluation.classification import class_samples
    from vaelab.evaluation.plots import save_image_grid
    from vaelab.evaluation.run import display

    if args.class_label is None:
        return sample_images(args, load)
    if not 1 <= args.num <= 100_000:
        raise ConfigError(f"--num must be in [1, 100000], got {args.num}")
    model, _, _ = load(args.run, device=args.device, data=False)
    classes = model.num_classes
    if not 0 <= args.class_label < classes:
        raise ConfigError(f"--class must be in [0, {classes}), got {args.class_label}")
    generator = torch.Generator().manual_seed(args.seed)
    images = display(model, class_samples(model, classes, args.num, generator,
                                          only=args.class_label)).cpu()
    out = args.out or args.run / f"samples-class{args.class_label}-{args.seed}.png"
    save_image_grid(images, out, columns=args.columns)
    print(f"wrote {out}")
    if args.npy:
        import numpy as np

        np.save(args.npy, images.numpy())
        print(f"wrote {args.npy}")
    return 0


def load(run_dir: Path, best: bool = True, device: str = "cpu",
         data: bool = True, data_dir: str | None = None) -> tuple[Any, SemiSupervisedExperiment, Any]:
    """(model, config, splits) of a run; `data=False`: the run folder alone, splits None."""
    from vaelab.kinds.semisupervised_training import load_semisupervised_run

    return load_semisupervised_run(run_dir, best=best, device=device, data=data, data_dir=data_dir)


def classify(args: argparse.Namespace) -> int:
    """`vaelab classify RUN IMAGES`: each image's most probable class and q(y | x)."""
    from vaelab.data.user_images import read_images
    from vaelab.evaluation.calibration import apply_temperature
    from vaelab.evaluation.classification import class_probabilities, model_space, saved_temperature
    from vaelab.runs.evaluations import weights_fingerprint
    from vaelab.runs.files import CALIBRATION_JSON

    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    model, _, _ = load(args.run, device=args.device, data=False)
    images, names, binary = read_images(args.images, args.image_size)
    expected = tuple(model.data_shape)
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(f"the images are {tuple(images.shape[1:])} (C, H, W) but the run was "
                          f"trained on {expected}; pass --image-size or convert them")
    probs = class_probabilities(model, model_space(model, images, binary)).cpu()
    calibration = saved_temperature(args.run)
    if calibration is not None and calibration.get("weights") != weights_fingerprint(model):
        print(f"note: {CALIBRATION_JSON} was fitted to other weights (the run trained on since); "
              "q(y | x) is not tempered until `vaelab evaluate RUN` fits it again")
        calibration = None
    if calibration is not None:
        probs = apply_temperature(probs, calibration["temperature"])
        print(f"q(y | x) tempered by T = {calibration['temperature']:.3f} (fitted on "
              f"{calibration['validation_labels']} validation labels; {CALIBRATION_JSON})")
    top = min(args.top, probs.shape[1])
    for name, row in zip(names, probs, strict=True):
        values, classes = row.topk(top)
        shown = "  ".join(f"{int(c)}: {float(v):.3f}" for v, c in zip(values, classes, strict=True))
        print(f"{name}\t{int(classes[0])}\t{shown}")
    if args.json:
        args.json.write_text(json.dumps({
            "images": [{"image": n, "class": int(r.argmax()),
                        "probabilities": [round(float(v), 6) for v in r]}
                       for n, r in zip(names, probs, strict=True)],
            "temperature": None if calibration is None else calibration["temperature"],
            "calibration": run_calibration(args.run)}, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def run_calibration(run_dir: Path) -> dict[str, Any] | None:
    """How far the run's q(y | x) can be trusted, from its test evaluation (metrics.json): the
    ECE and reliability bins (after temperature scaling too, when fitted); None before any."""
    path = run_dir / "metrics.json"
    found = json.loads(path.read_text()).get("classification", {}) if path.is_file() else {}
    if "calibration" not in found:
        return None
    scaled = found.get("temperature_scaling")
    return {"test_images": found["examples"], **found["calibration"],
            **({} if scaled is None else {"after_temperature_scaling": scaled["test_after"]})}
