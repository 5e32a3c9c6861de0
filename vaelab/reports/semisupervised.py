"""Report sections of semi-supervised runs (M2, M1+M2): classification results, class-conditional
samples and the analogies figure (Kingma et al. 2014, Fig. 1): a test image's style in every class."""

from __future__ import annotations

import torch

from vaelab.evaluation.classification import analogies, class_samples
from vaelab.evaluation.run import display
from vaelab.objectives.semisupervised import PIXELS, bound_of
from vaelab.reports.blocks import Figure, Section, Table, Text
from vaelab.reports.context import RunContext
from vaelab.reports.figures import grid_png, labelled_grid_png
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
    return Section("classification", "Semi-supervised classification", (intro, summary, confusion))


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
