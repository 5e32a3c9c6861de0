"""TensorBoard summaries during training: every epoch's scalars, samples and reconstructions.

A training callback: `vaelab.fit(..., callbacks=[TensorBoardLogger(...)])`. TensorBoard is an optional extra
(`pip install tensorboard` or `pip install 'vaelab[tensorboard]'`); without it, constructing
the logger raises ImportError saying so, before any training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaelab.data.splits import Splits
from vaelab.evaluation.plots import image_grid
from vaelab.evaluation.run import display, held_out_tensor
from vaelab.models.base import LatentVariableModel

INSTALL_HINT = ("TensorBoard logging needs the tensorboard package: `pip install tensorboard` "
                "(or `pip install 'vaelab[tensorboard]'`)")

#: metrics.jsonl key -> TensorBoard tag; other numeric keys go under "train/"
TAGS = {
    "train_bound": "bound/train",
    "valid_bound": "bound/validation",
    "train_loss": "loss/train",
    "train_reconstruction": "terms/reconstruction",
    "train_kl": "terms/kl",
    "learning_rate": "optimizer/learning_rate",
    "kl_weight": "optimizer/kl_weight",
    "seconds": "time/training_seconds",
}
SKIPPED = {"epoch", "step"}


def summary_writer_class() -> type:
    """torch's SummaryWriter; ImportError with the install hint when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return SummaryWriter


def _grid_chw(images: torch.Tensor, columns: int) -> torch.Tensor:
    array = torch.from_numpy(image_grid(images, columns))
    return array.unsqueeze(0) if array.dim() == 2 else array.permute(2, 0, 1)


class TensorBoardLogger:
    """A training callback of the plain kind, a function of (model, record): after each epoch's
    checkpoint, on rank 0, the scalars of the epoch's record (x = epoch), a sample grid from a
    fixed seed, and fixed test images beside their reconstructions; the loop calls `close()`
    when training ends. (A plain callable, not a `vaelab.Callback` subclass, so that reports
    need nothing from the trainer.)"""

    def __init__(self, log_dir: Path, splits: Splits | None = None, images: int = 16,
                 seed: int = 0) -> None:
        # fail now, not after the first epoch; open the writer on the first epoch, so a run
        # that fails to start leaves no event file behind
        self.writer_class = summary_writer_class()
        self.writer: Any = None
        self.log_dir = Path(log_dir)
        self.splits = splits
        self.images = images
        self.seed = seed

    def __call__(self, model: LatentVariableModel, record: dict[str, Any]) -> None:
        self.log_epoch(model, record)

    @torch.no_grad()
    def log_epoch(self, model: LatentVariableModel, record: dict[str, Any]) -> None:
        """Write one epoch's summaries (`record` as in metrics.jsonl); the model is left as it was."""
        if self.writer is None:
            self.writer = self.writer_class(log_dir=str(self.log_dir))
        epoch = int(record["epoch"])
        for key, value in record.items():
            if key in SKIPPED or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            self.writer.add_scalar(TAGS.get(key, f"train/{key}"), value, epoch)
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            generator = torch.Generator(device=device).manual_seed(self.seed)
            samples = display(model, model.sample(self.images, generator))
            self.writer.add_image("samples", _grid_chw(samples, 8), epoch)
            if self.splits is not None:
                x = held_out_tensor(model, self.splits, self.images, device)
                pairs = torch.stack([display(model, x), display(model, model.reconstruct(x))], 1)
                self.writer.add_image("reconstructions", _grid_chw(pairs.flatten(0, 1), 8), epoch)
        finally:
            model.train(was_training)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file (training's end does this)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
