"""Report sections of semi-supervised runs (M2, M1+M2, ADGM, SDGM): classification results with
the classifier's calibration (ECE and a reliability diagram), class-conditional samples and the
analogies figure (Kingma et al. 2014, Fig. 1): a test image's style in every class."""

from __future__ import annotations

import torch

from vaelab.evaluation.auxiliary_use import UNUSED_INFORMATION_NATS, UNUSED_SPREAD, idle_text
from vaelab.evaluation.classification import analogies, class_samples
from vaelab.evaluation.run import display
from vaelab.objectives.semisupervised import PIXELS, bound_of
from vaelab.reports.blocks import Figure, Section, Table, Text
from vaelab.reports.context import RunContext
from vaelab.reports.figures import figure_png, grid_png, labelled_grid_png, new_figure, report_style
from vaelab.reports.sections import register_section

ANALOGY_ROWS = 8
SAMPLES_PER_CLASS = 10


def _is_semisupervised(run: RunContext) -> bool:
    """A run of a classifier trained with few labels: its config has a `semisupervised` section
    and its model classifies (the sections apply to any kind that offers both)."""
    return getattr(run.config, "semisupervised", None) is not None and hasattr(run.model, "num_classes")


@register_section(order=25)
def classification_results(run: RunContext) -> Section | None:
    """Test error, per-class errors and the confusion matrix from metrics.json."""
    if not _is_semisupervised(run):
        return None
    semi = run.config.semisupervised
    found = (run.metrics or {}).get("classification")
    intro = Text(f"{semi.kind.upper()} trained with {semi.labels} labels (balanced per class, "
                 f"seed {run.config.train.seed}; RUN/labelled.json lists them) and every training "
                 "image as unlabelled data; y is summed out exactly in the unlabelled bound"
                 + (" (the test ELBO above). " if bound_of(run.model) == PIXELS else
                    " (the test ELBO above, here a bound on M1's features, not on the pixels). "))
    if found is None:
        return Section("classification", "Semi-supervised classification",
                       (intro, Text("No metrics.json with classification results: run "
                                    "`vaelab evaluate RUN`.")))
    error = found["error"]
    per_class = found["per_class_error"]
    summary = Table(("test error", "test images", "per-class error (%)"), ((
        f"{100 * error['mean']:.2f}% ± {100 * error['stderr']:.2f}", str(found["examples"]),
        ", ".join("–" if e is None else f"{c}: {100 * e:.1f}" for c, e in enumerate(per_class))),),
        caption="Error of argmax_y q(y | x) on the whole test split (± binomial standard error).")
    matrix = found["confusion_matrix"]
    confusion = Table(("true \\ predicted", *map(str, range(len(matrix)))),
                      tuple((str(i), *map(str, row)) for i, row in enumerate(matrix)),
                      caption="Confusion matrix: test images per (true class, predicted class).",
                      collapsed=True)
    blocks = (intro, summary, confusion, *calibration_blocks(found), *auxiliary_blocks(found))
    return Section("classification", "Semi-supervised classification", blocks)


def calibration_blocks(found: dict) -> tuple[Text | Figure, ...]:
    """The expected calibration error and the reliability diagram (after temperature scaling
    too, when the run fitted one); nothing for results evaluated before calibration was kept."""
    calibration = found.get("calibration")
    if calibration is None:
        return ()
    scaled = found.get("temperature_scaling")
    text = (f"Calibration: expected calibration error (ECE, 15 equal-width confidence bins) "
            f"{calibration['ece']:.3f}; mean confidence {calibration['mean_confidence']:.3f} "
            f"against accuracy {calibration['accuracy']:.3f}.")
    if scaled is not None:
        text += (f" Temperature scaling (T = {scaled['temperature']:.2f}, fitted on "
                 f"{scaled['validation_labels']} validation labels): test ECE "
                 f"{scaled['test_ece_before']:.3f} → {scaled['test_ece_after']:.3f}.")
    diagrams = [("q(y | x)", calibration["bins"])]
    if scaled is not None:
        diagrams.append((f"tempered, T = {scaled['temperature']:.2f}", scaled["test_after"]["bins"]))
    figure = Figure(reliability_png(diagrams), "reliability diagram",
                    "Reliability diagram: per confidence bin, the share of right predictions "
                    "(blue) against their mean confidence (top of the red gap); the diagonal is "
                    "perfect calibration. Empty bins are left out; the counts are in metrics.json.")
    return Text(text), figure


def auxiliary_blocks(found: dict) -> tuple[Text, ...]:
    """For an ADGM / SDGM: whether its classifier uses the auxiliary variable a (see
    `vaelab.evaluation.auxiliary_use`); nothing for other kinds or older results."""
    use = found.get("auxiliary_use")
    if use is None:
        return ()
    verdict = ("a goes unused: the model classifies as M2 would, at a higher cost a step" if use["unused"]
               else "a is in use")
    return (Text(f"Auxiliary variable ({use['examples']} test images, {use['draws']} draws of a "
                 f"each): I(y; a | x) under q {use['classifier_information']:.3f} nats; E[a | x] "
                 f"moves across images by {use['spread']:.3f} of q(a | x)'s scale{idle_text(use)} — "
                 f"{verdict} (unused: under {UNUSED_INFORMATION_NATS} nats and {UNUSED_SPREAD})."),)


def reliability_png(diagrams: list[tuple[str, list[dict]]]) -> bytes:
    """One reliability diagram per (title, bins) side by side."""
    with report_style():
        fig, axes = new_figure(3.6, 1, len(diagrams))
        for ax, (title, bins) in zip(axes[0], diagrams, strict=True):
            width = bins[0]["upper"] - bins[0]["lower"]
            filled = [b for b in bins if b["count"]]  # an empty bin has no accuracy to draw
            lefts = [b["lower"] for b in filled]
            accuracy = [b["accuracy"] for b in filled]
            confidence = [b["confidence"] for b in filled]
            ax.bar(lefts, accuracy, width=width, align="edge", edgecolor="black", label="accuracy")
            ax.bar(lefts, [c - a for c, a in zip(confidence, accuracy, strict=True)],
                   bottom=accuracy, width=width, align="edge", color="tab:red", alpha=0.3,
                   label="gap to confidence")
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
            ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)",
                   ylabel="accuracy", title=title)
            ax.legend(loc="upper left")
        return figure_png(fig)


@register_section(order=45)
def class_conditional_samples(run: RunContext) -> Section | None:
    """One row per class: E[x | y, z] for z ~ p(z)."""
    if not _is_semisupervised(run):
        return None
    classes = run.model.num_classes
    images = display(run.model, class_samples(run.model, classes, SAMPLES_PER_CLASS,
                                              run.generator(3))).cpu()
    figure = Figure(grid_png(images, columns=SAMPLES_PER_CLASS), "samples of each class",
                    f"Row c: {SAMPLES_PER_CLASS} draws z ~ p(z) decoded with y = c, E[x | y, z].",
                    pixelated=True)
    return Section("class-samples", "Samples of each class", (figure,))


@register_section(order=46)
def analogies_figure(run: RunContext) -> Section | None:
    """Each row: a test image, then its style z = E[z | x, y] rendered as every class."""
    if not _is_semisupervised(run):
        return None
    rows = min(ANALOGY_ROWS, run.x_test.shape[0])
    if rows < 1:
        return None
    x = run.x_test[:rows]
    labels = run.labels[:rows].to(x.device) if run.labels is not None else None
    with torch.no_grad():
        grid = analogies(run.model, x, labels)
    classes = run.model.num_classes
    images = display(run.model, grid.flatten(0, 1)).cpu()
    png = labelled_grid_png(images, classes + 1, rows, ["x", *map(str, range(classes))],
                            "class y fed to the decoder; z = E[z | x, y_x] from the test image x")
    figure = Figure(png, "analogies: each test image's style in every class",
                    f"{rows} test images (first column); each following column decodes the image's "
                    "style z = E[z | x, y_x] (y_x its true label) with another class y.")
    return Section("analogies", "Analogies: one style, every class", (figure,))
