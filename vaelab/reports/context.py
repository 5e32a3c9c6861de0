"""A finished run folder, loaded once and shared by every report section.

Holds the trained model, its config and data splits, the per-epoch records and the saved
metrics; derived quantities (test images, posterior means, KL per dimension) are computed on
first use and cached, so several sections can use them at the cost of one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vaelab.data.splits import Splits
from vaelab.evaluation.run import ESTIMATORS_JSON, held_out_tensor
from vaelab.models.base import LatentVariableModel
from vaelab.reports import latent
from vaelab.runs.evaluations import METRICS_JSON
from vaelab.runs.loader import RunLoader
from vaelab.runs.metrics_log import read_metrics

if TYPE_CHECKING:
    from vaelab.training.config import ExperimentConfig

#: test images used for the latent-space statistics and pictures (0 = the whole test set)
DEFAULT_EXAMPLES = 1000


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); re-run `vaelab evaluate`") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object; re-run `vaelab evaluate`")
    return data


@dataclass(eq=False)
class RunContext:
    """Everything a section may read about one run; heavy quantities are computed lazily."""

    run_dir: Path
    model: LatentVariableModel
    config: ExperimentConfig | None
    splits: Splits | None
    records: list[dict[str, Any]]
    metrics: dict[str, Any] | None
    estimators: dict[str, Any] | None
    examples: int = DEFAULT_EXAMPLES
    seed: int = 0
    #: a model you trained with `vaelab.fit`: config is None, the run folder's config.json is
    #: here, and the test examples are given (in the model's units)
    description: dict[str, Any] | None = None
    given_x_test: torch.Tensor | None = None
    given_labels: torch.Tensor | None = None

    @property
    def name(self) -> str:
        """The run folder's name, as shown in headings and tables."""
        return self.run_dir.resolve().name

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def images(self) -> bool:
        """Whether the model's examples are pictures (C, H, W with 1 or 3 channels): the
        sections that draw examples show only then (a model of vectors gets the others)."""
        shape = tuple(getattr(self.model, "data_shape", ()))
        return len(shape) == 3 and shape[0] in (1, 3)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh generator seeded from the report seed, so each picture is repeatable."""
        return torch.Generator(device=self.device).manual_seed(self.seed + offset)

    @cached_property
    def x_test(self) -> torch.Tensor:
        """The first `examples` test images in model space (binarized with a fixed seed)."""
        if self.given_x_test is not None:
            given = self.given_x_test if self.examples <= 0 else self.given_x_test[:self.examples]
            return given.to(self.device)
        return held_out_tensor(self.model, self.splits, self.examples, self.device)

    @cached_property
    def labels(self) -> torch.Tensor | None:
        """Labels of `x_test`, or None when the data set has none."""
        labels = self.given_labels if self.splits is None else self.splits.test.labels
        return None if labels is None else labels[: self.x_test.shape[0]].cpu()

    @property
    def single_latent(self) -> bool:
        """Whether the model has one latent vector z with p(z) and q(z | x) (see latent.py)."""
        return latent.is_single_latent(self.model)

    @cached_property
    def posterior_means(self) -> torch.Tensor | None:
        """E_q[z | x] of the test images, [N, latent_dim]; None unless `single_latent`."""
        if not self.single_latent:
            return None
        return latent.posterior_means(self.model, self.x_test).cpu()

    @cached_property
    def activity(self) -> torch.Tensor | None:
        """Cov_x(E_q[z_d | x]) per dimension (Burda et al.); None without posterior means or
        with fewer than 2 test images."""
        means = self.posterior_means
        return latent.unit_activity(means) if means is not None and means.shape[0] >= 2 else None

    @cached_property
    def kl_per_dim(self) -> torch.Tensor | None:
        """Mean KL(q(z_d | x) ‖ p(z_d)) over the test images, nats, or None."""
        if not self.single_latent:
            return None
        return latent.kl_per_dimension(self.model, self.x_test)


def load_context(run_dir: Path | str, load: RunLoader, device: str = "cpu",
                 examples: int = DEFAULT_EXAMPLES, seed: int = 0, data_dir: str | None = None) -> RunContext:
    """Load a run folder written by `vaelab train` with its kind's `load` (`vaelab.kinds.load_run`
    for any run; see `vaelab.runs.loader`); `data_dir`: where its data are now, when they moved."""
    run_dir = Path(run_dir)
    model, config, splits = load(run_dir, device=device, data_dir=data_dir)
    return RunContext(
        run_dir=run_dir, model=model, config=config, splits=splits,
        records=read_metrics(run_dir), metrics=_read_json(run_dir / METRICS_JSON),
        estimators=_read_json(run_dir / ESTIMATORS_JSON), examples=examples, seed=seed,
    )
