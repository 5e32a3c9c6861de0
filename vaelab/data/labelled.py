"""The labelled subset of a semi-supervised run: balanced over classes and chosen by seed.

Kingma et al. (2014) keep N_l labels, N_l / C per class, and treat every other training image as
unlabelled. `balanced_subset` does that for any number of classes C and any N_l ≥ C; a remainder
goes one each to classes picked by the same seed. Labels < 0 (e.g. −1) mark images that came
without a label: they are unlabelled data and never chosen.
"""

from __future__ import annotations

import torch

from vaelab.data.errors import DataError

#: the label that marks an image without a label
UNLABELLED = -1


def check_labels(labels: torch.Tensor | None, num_classes: int, name: str = "data") -> None:
    """DataError unless every label is in [0, num_classes) or the unlabelled mark −1."""
    if labels is None:
        raise DataError(f"{name} has no labels; semi-supervised training needs a labelled dataset "
                        "(class subfolders, or an .npz with 'labels' / 'y_train')")
    if num_classes < 2:
        raise DataError(f"semi-supervised classification needs >= 2 classes, got {num_classes}")
    bad = (labels >= num_classes) | (labels < UNLABELLED)
    if bool(bad.any()):
        values = labels[bad].unique().tolist()  # the distinct bad labels, not those of the first few
        more = f" and {len(values) - 20} more" if len(values) > 20 else ""
        shown = ", ".join(map(str, values[:20])) + more
        raise DataError(f"{name} has labels outside the class range [0, {num_classes}) "
                        f"(and -1 = unlabelled): {shown}")


def infer_num_classes(labels: torch.Tensor | None, name: str = "data") -> int:
    """C = largest label + 1."""
    if labels is None or not bool((labels >= 0).any()):
        raise DataError(f"{name} has no labels; semi-supervised training needs labelled data")
    return int(labels.max()) + 1


def balanced_subset(labels: torch.Tensor, count: int | None, num_classes: int,
                    seed: int, split: str = "training") -> torch.Tensor:
    """Sorted positions of `count` labelled examples, count // C per class (+1 for
    count % C seeded classes); `count` None = every labelled example.

    DataError when a label is outside [0, C), when count < C (fewer than one per class), when
    count exceeds the labelled examples, when a class has no labelled example, or when a class
    has too few examples for its share (`split` names the data in the messages).
    """
    check_labels(labels, num_classes)
    labelled = (labels >= 0).nonzero().flatten()
    if count is None:
        if labelled.numel() == 0:
            raise DataError("no example carries a label")
        return labelled
    if isinstance(count, bool) or not isinstance(count, int):
        raise DataError(f"the number of labels must be an integer or 'all', got {count!r}")
    if count < num_classes:
        raise DataError(f"{count} labels are fewer than one per class ({num_classes} classes); "
                        f"ask for at least {num_classes}")
    if count > labelled.numel():
        raise DataError(f"{count} labels asked for, but the {split} data hold only "
                        f"{labelled.numel()} labelled examples")
    generator = torch.Generator().manual_seed(seed)
    share = torch.full((num_classes,), count // num_classes, dtype=torch.long)
    share[torch.randperm(num_classes, generator=generator)[:count % num_classes]] += 1
    chosen = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        if members.numel() == 0:
            raise DataError(f"class {c} has no labelled example (of {num_classes} classes); every "
                            "class needs at least one: label one, or set the number of classes")
        if members.numel() < int(share[c]):
            raise DataError(f"class {c} has {members.numel()} labelled {split} examples, fewer "
                            f"than its share of {int(share[c])} of the {count} labels")
        chosen.append(members[torch.randperm(members.numel(), generator=generator)[:int(share[c])]])
    return torch.cat(chosen).sort().values
