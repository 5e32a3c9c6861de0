"""Semi-supervised runs: test error, per-class errors, the confusion matrix, calibration (ECE,
reliability bins, temperature scaling), the unlabelled bound, class-conditional samples and the
analogies figure (Kingma et al. 2014, Fig. 1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path

import torch

from vaelab.atomic_files import atomic_write_text
from vaelab.choices import EVALUATION_SEED
from vaelab.data.binarize import binarize_each
from vaelab.data.imageset import ImageSet
from vaelab.data.labelled import UNLABELLED
from vaelab.data.representation import to_model_space
from vaelab.data.splits import SPLIT_SEED, Splits
from vaelab.evaluation.auxiliary_use import auxiliary_use
from vaelab.evaluation.calibration import apply_temperature, fit_temperature, reliability
from vaelab.evaluation.metrics import held_out_metrics
from vaelab.evaluation.plots import plot_training_curves, save_image_grid
from vaelab.evaluation.progress import progress_bar
from vaelab.evaluation.run import TRAINING_CURVE_PNG, display, held_out_tensor, picture_stamps
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import Estimate
from vaelab.objectives.semisupervised import bound_of, m2_view, unlabelled_bound
from vaelab.runs.evaluations import SEMISUPERVISED, RunEvaluations, finish, weights_fingerprint
from vaelab.runs.files import CALIBRATION_JSON, LABELLED_JSON
from vaelab.runs.loader import RunLoader
from vaelab.runs.log import print_now
from vaelab.runs.metrics_log import read_metrics

CLASS_SAMPLES_PNG = "class_samples.png"
#: seed of the binarization of grey images a user classifies or reconstructs (with their pixels)
USER_IMAGES_SEED = SPLIT_SEED + 7
ANALOGIES_PNG = "analogies.png"
#: test images on which an ADGM / SDGM's use of its auxiliary variable is measured
AUXILIARY_USE_EXAMPLES = 1000


@torch.no_grad()
def class_probabilities(model: LatentVariableModel, x: torch.Tensor,
                        batch_size: int = 1000) -> torch.Tensor:
    """q(y | x) for model-space images x: [N, C]."""
    model.eval()
    out = []
    for start in range(0, x.shape[0], batch_size):
        m2, h = m2_view(model, x[start:start + batch_size])
        out.append(m2.classifier(h).probs)
    return torch.cat(out)


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """counts[true, predicted], int64 [C, C]."""
    flat = labels.long() * classes + predicted.long()
    return torch.bincount(flat.cpu(), minlength=classes * classes).reshape(classes, classes)


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, object]:
    """Error rate (with its binomial standard error), per-class errors and the confusion matrix."""
    classes = probs.shape[-1]
    predicted = probs.argmax(-1).cpu()
    labels = labels.cpu()
    wrong = (predicted != labels).double()
    counts = confusion_matrix(predicted, labels, classes)
    per_class = counts.sum(1)
    correct = counts.diagonal()
    return {
        "examples": int(labels.numel()),
        "error": Estimate.of(wrong).as_dict(),
        "per_class_error": [None if int(n) == 0 else 1.0 - int(c) / int(n)
                            for c, n in zip(correct, per_class, strict=True)],
        "confusion_matrix": counts.tolist(),
        "mean_log_prob_true": float(probs.cpu().clamp_min(1e-30).log()
                                    .gather(1, labels[:, None].long()).mean()),
        "calibration": reliability(probs.cpu(), labels),
    }


def validation_probabilities(model: LatentVariableModel, splits: Splits,
                             device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """q(y | x) [N, C] and the labels [N] of the validation images that keep a label (those
    the run's label budget counts), binarized as the training loop's validation error does;
    None when there are none."""
    valid = splits.valid
    if not isinstance(valid, ImageSet) or valid.labels is None:
        return None
    rows = (valid.labels != UNLABELLED).nonzero().flatten()
    if rows.numel() == 0:
        return None
    generator = torch.Generator(device=device).manual_seed(SPLIT_SEED)
    x = to_model_space(valid.images[rows].to(device), valid.binary, model.data_kind, generator)
    return class_probabilities(model, x), valid.labels[rows]


def calibrate(probs_valid: torch.Tensor, labels_valid: torch.Tensor, probs_test: torch.Tensor,
              labels_test: torch.Tensor) -> dict[str, object]:
    """Temperature scaling: T fitted on the validation labels, and the ECE on validation and
    test images before and after it (the test reliability bins after it).

    The fit minimises the validation NLL, which a few confident mistakes can dominate: it then
    picks a large T that flattens every right answer too. A fitted T that raises the validation
    ECE is reported (`fitted_temperature`) but not used: `temperature` is then 1."""
    fitted = fit_temperature(probs_valid, labels_valid)

    def ece(probs: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
        return reliability(apply_temperature(probs, temperature).cpu(), labels.cpu())["ece"]

    before = reliability(probs_valid.cpu(), labels_valid.cpu())["ece"]
    tempered = ece(probs_valid, labels_valid, fitted)
    temperature = fitted if tempered <= before else 1.0
    after = reliability(apply_temperature(probs_test, temperature).cpu(), labels_test.cpu())
    return {"temperature": temperature, "fitted_temperature": fitted,
            "validation_labels": int(labels_valid.numel()),
            "validation_ece_before": before,
            "validation_ece_fitted": tempered,
            "validation_ece_after": ece(probs_valid, labels_valid, temperature),
            "test_ece_before": reliability(probs_test.cpu(), labels_test.cpu())["ece"],
            "test_ece_after": after["ece"], "test_after": after}


def saved_temperature(run_dir: Path) -> dict | None:
    """RUN/calibration.json (the temperature a `--calibrate` run's evaluation fitted), or None."""
    path = Path(run_dir) / CALIBRATION_JSON
    return json.loads(path.read_text()) if path.is_file() else None


@torch.no_grad()
def unlabelled_bound_estimate(model: LatentVariableModel, x: torch.Tensor,
                              batch_size: int = 200, progress: bool | None = None) -> Estimate:
    """U(x) with y summed out exactly, mean ± standard error over x (nats); the bar counts images."""
    model.eval()
    values = []
    with progress_bar(x.shape[0], "unlabelled bound", progress, "images") as advance:
        for start in range(0, x.shape[0], batch_size):
            m2, h = m2_view(model, x[start:start + batch_size])
            values.append(unlabelled_bound(m2, h)["bound"])
            advance(values[-1].shape[0])
    return Estimate.of(torch.cat(values))


@torch.no_grad()
def class_samples(model: LatentVariableModel, classes: int, per_class: int,
                  generator: torch.Generator | None = None, only: int | None = None) -> torch.Tensor:
    """E[x | y, z] for z ~ p(z): `per_class` images of each class (or of class `only`), class-major."""
    device = next(model.parameters()).device
    wanted = torch.arange(classes) if only is None else torch.tensor([only])
    labels = wanted.repeat_interleave(per_class).to(device)
    state = torch.random.get_rng_state()
    if generator is not None:
        torch.manual_seed(int(torch.randint(0, 2**62, (), generator=generator)))
    try:
        return model.sample_class(labels)
    finally:
        torch.random.set_rng_state(state)


@torch.no_grad()
def analogies(model: LatentVariableModel, x: torch.Tensor, labels: torch.Tensor | None = None
              ) -> torch.Tensor:
    """[N, 1 + C, ...]: each image x beside E[x | y = c, z = E[z | x, y_x]] for every class c —
    x's style (z from q(z | x, y_x), y_x its label or else its most probable class) in each class."""
    model.eval()
    classes = model.num_classes
    if labels is None:
        labels = class_probabilities(model, x).argmax(-1)
    z = model.style(x, labels.to(x.device))                                  # [N, d]
    ys = torch.eye(classes, device=x.device)[:, None, :].expand(classes, x.shape[0], classes)
    rendered = model.decode_mean((ys, z.expand(classes, *z.shape)))          # [C, N, ...]
    return torch.cat([x[:, None], rendered.transpose(0, 1)], 1)


def write_class_pictures(model: LatentVariableModel, x_test: torch.Tensor,
                         labels: torch.Tensor | None, run_dir: Path, seed: int = 0,
                         rows: int = 10, names: Collection[str] | None = None) -> list[Path]:
    """class_samples.png (one row per class) and analogies.png (one test image per row); only
    those in `names`, when given."""
    classes = model.num_classes
    paths = []
    if names is None or CLASS_SAMPLES_PNG in names:
        samples = class_samples(model, classes, 10, torch.Generator().manual_seed(seed))
        paths.append(save_image_grid(display(model, samples), run_dir / CLASS_SAMPLES_PNG, columns=10))
    if names is None or ANALOGIES_PNG in names:
        grid = analogies(model, x_test[:rows], None if labels is None else labels[:rows])
        paths.append(save_image_grid(display(model, grid.flatten(0, 1)), run_dir / ANALOGIES_PNG,
                                     columns=classes + 1))
    return paths


def evaluate_semisupervised_run(run_dir: Path, load: RunLoader, k: int = 100, examples: int = 1000,
                                device: str = "auto", seed: int = EVALUATION_SEED,
                                log: Callable[[str], None] = print_now,
                                progress: bool | None = None, data_dir: str | None = None,
                                calibrate: bool | None = None) -> dict:
    """Test error, per-class errors and confusion matrix on the whole test set; the exact
    unlabelled bound U(x) and importance-sampled log p(x) (k draws of (y, z); k = 0 skips it) on
    the first `examples` test images (0 = all); for an ADGM / SDGM, whether its classifier uses
    a (`auxiliary_use`, on the first 1,000 test images); class pictures the run lacks. Kept
    as RUN/evaluations/<id>.json and merged into RUN/metrics.json (see `vaelab.runs.evaluations`);
    returns the results with "evaluation", "files", "kept" and "moved".

    For M1+M2 the bound and log p are of M1's features, not of the pixels. `data_dir`: where the
    run's data are now, when they moved. `load`: the kind's loader (see `vaelab.runs.loader`).
    `calibrate`: fit a temperature on the validation labels (True), or not (False); None does
    what the run was trained with (`semisupervised.calibrate`).
    """
    run_dir = Path(run_dir)
    torch.manual_seed(seed)
    model, config, splits = load(run_dir, device=device, data_dir=data_dir)
    dev = next(model.parameters()).device
    if splits.test.labels is None:
        raise ValueError(f"the test split of {config.data.dataset!r} has no labels to score")
    calibrating = config.semisupervised.calibrate if calibrate is None else calibrate
    valid = validation_probabilities(model, splits, dev)
    if calibrating and valid is None:
        raise ValueError("temperature scaling is fitted on the run's validation labels, and this run "
                         "has none (it trained with --validation-size 0 or --validation-labels 0); "
                         "leave --calibrate off")
    x_all = held_out_tensor(model, splits, 0, dev)
    labels = splits.test.labels
    log(f"classifying {x_all.shape[0]} test images of {config.data.dataset} ...")
    probs_test = class_probabilities(model, x_all)
    classification = classification_metrics(probs_test, labels)
    if calibrating:
        classification["temperature_scaling"] = temperature_scaling(run_dir, valid, probs_test,
                                                                    labels, weights_fingerprint(model))
    use = auxiliary_use(model, x_all[:AUXILIARY_USE_EXAMPLES], seed=seed)
    if use is not None:
        classification["auxiliary_use"] = use
    x_test = x_all if examples <= 0 else x_all[:examples]
    space = bound_of(model)
    log(f"unlabelled bound (y summed out) on {x_test.shape[0]} test images"
        + (f", log p(x) by importance sampling, k = {k}" if k > 0 else "") + " ...")
    bound = unlabelled_bound_estimate(model, x_test, progress=progress)
    test: dict[str, object] = {"elbo": bound.as_dict(), "bound_of": space}
    if k > 0:
        generic = held_out_metrics(model, x_test, k, progress=progress)
        test.update({key: generic[key] for key in ("log_px_is", "is_samples", "ess_mean")})
    test["examples"] = int(x_test.shape[0])
    labelled = json.loads((run_dir / LABELLED_JSON).read_text()) if (
        run_dir / LABELLED_JSON).is_file() else {}
    training_labels = len(labelled.get("indices", []))
    validation_labels = 0 if valid is None else int(valid[1].numel())
    metrics = {"dataset": config.data.dataset, "likelihood": config.model.likelihood,
               "kind": config.semisupervised.kind, "labels": training_labels,
               "validation_labels": validation_labels,
               "label_budget": training_labels + validation_labels,
               "classification": classification, "test": test}
    estimators = ["unlabelled_bound"] + (["importance_sampling"] if k > 0 else [])
    settings = {"k": k, "examples": int(x_test.shape[0]), "examples_asked": examples, "seed": seed,
                "estimators": estimators, "calibrated": bool(calibrating),
                "classified": int(x_all.shape[0]), "device": str(dev)}
    store = RunEvaluations(run_dir, SEMISUPERVISED)
    weights = weights_fingerprint(model)
    stamps = picture_stamps(run_dir, weights, (CLASS_SAMPLES_PNG, ANALOGIES_PNG))
    evaluation = store.begin(settings, weights, stamps)
    draw = store.keep_or_move(evaluation, stamps)
    paths = write_class_pictures(model, x_all, labels.to(dev), run_dir, seed, names=draw)
    records = read_metrics(run_dir)
    if records and TRAINING_CURVE_PNG in draw:
        paths.append(plot_training_curves(records, run_dir / TRAINING_CURVE_PNG))
    evaluation.drawn.update({p.name: stamps[p.name] for p in paths})
    return finish(store, evaluation, metrics, paths)


def temperature_scaling(run_dir: Path, valid: tuple[torch.Tensor, torch.Tensor] | None,
                        probs_test: torch.Tensor, labels_test: torch.Tensor,
                        weights: str) -> dict[str, object]:
    """`calibrate` on the validation labels, kept in RUN/calibration.json (for `vaelab classify`,
    with the fingerprint of the weights it was fitted to); a ValueError when the run has no
    validation labels to fit it on."""
    if valid is None:
        raise ValueError("semisupervised.calibrate fits a temperature on the validation labels, "
                         "but this run has none; set --validation-size and --validation-labels > 0")
    fitted = calibrate(valid[0], valid[1], probs_test, labels_test)
    atomic_write_text(Path(run_dir) / CALIBRATION_JSON, json.dumps({
        "temperature": fitted["temperature"], "validation_labels": fitted["validation_labels"],
        "validation_ece_before": fitted["validation_ece_before"],
        "validation_ece_after": fitted["validation_ece_after"], "weights": weights}, indent=1) + "\n")
    return fitted


def model_space(model: LatentVariableModel, images: torch.Tensor, binary: bool) -> torch.Tensor:
    """User images (uint8) in the model's units. Grey images meeting a Bernoulli likelihood are
    binarized one by one from a fixed seed and their own pixels (`binarize_each`), so an image
    is classified (or reconstructed) the same wherever it sits in the list and on every call."""
    device = next(model.parameters()).device
    images = images.to(device)
    if model.data_kind == "binary" and not binary:
        return binarize_each(images, USER_IMAGES_SEED)
    return to_model_space(images, binary, model.data_kind)
