"""The loop's callbacks: hooks in their order, records they add, and training left unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import vaelab
from vaelab.objectives import ObjectiveValue, elbo
from vaelab.reports.tensorboard import TensorBoardLogger
from vaelab.training import CHECKPOINT, NonFiniteLossError, read_metrics
from vaelab.training.callbacks import Callback, EveryEpoch, as_callback
from vaelab.training.engine import Loop

from .test_fit_model import binary_data, quiet, tiny_vae


class Recorder(Callback):
    """Writes down each hook as it is called, with the epochs done at that moment."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_train_start(self, loop: Loop) -> None:
        self.calls.append(("on_train_start", loop.state.epoch))

    def on_epoch_start(self, loop: Loop) -> None:
        self.calls.append(("on_epoch_start", loop.state.epoch))

    def on_batch_end(self, loop: Loop, value: ObjectiveValue) -> None:
        self.calls.append(("on_batch_end", loop.state.epoch))

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        self.calls.append(("on_epoch_end", loop.state.epoch))

    def on_checkpoint(self, loop: Loop, record: dict[str, Any]) -> None:
        self.calls.append(("on_checkpoint", loop.state.epoch))

    def on_train_end(self, loop: Loop) -> None:
        self.calls.append(("on_train_end", loop.state.epoch))


class DecoderNorm(Callback):
    """Adds an entry to each epoch's record and shows it in the progress line."""

    def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
        record["weight_norm"] = sum(p.norm().item() for p in loop.model.parameters())

    def describe(self, record: dict[str, Any]) -> str:
        return f"  |w| {record['weight_norm']:.1f}"


def test_hooks_are_called_in_order(tmp_path: Path) -> None:
    recorder = Recorder()
    vaelab.fit(tiny_vae(), binary_data(64), epochs=2, batch_size=32, run_dir=tmp_path, callbacks=[recorder],
               **quiet())
    epoch = [("on_epoch_start", 0), ("on_batch_end", 0), ("on_batch_end", 0), ("on_epoch_end", 0),
             ("on_checkpoint", 1)]
    second = [(hook, done + 1) for hook, done in epoch]
    assert recorder.calls == [("on_train_start", 0), *epoch, *second, ("on_train_end", 2)]


def test_a_record_entry_lands_in_metrics_jsonl_and_the_progress_line(tmp_path: Path) -> None:
    lines: list[str] = []
    run = vaelab.fit(tiny_vae(), binary_data(), epochs=2, batch_size=32, run_dir=tmp_path,
                     callbacks=[DecoderNorm()], progress=False, log=lines.append)
    assert [r["weight_norm"] > 0 for r in read_metrics(tmp_path)] == [True, True]
    assert run.history == read_metrics(tmp_path)
    assert "|w| " in lines[-1] and lines[-1].startswith("epoch 2/2")


def test_callbacks_leave_training_and_exact_resume_unchanged(tmp_path: Path) -> None:
    x = binary_data()

    def numbers(name: str) -> list[dict]:
        return [{k: v for k, v in r.items() if k in ("train_loss", "step", "kl_weight")}
                for r in read_metrics(tmp_path / name)]

    vaelab.fit(tiny_vae(), x, epochs=4, batch_size=16, run_dir=tmp_path / "plain", **quiet())
    vaelab.fit(tiny_vae(), x, epochs=4, batch_size=16, run_dir=tmp_path / "watched",
               callbacks=[DecoderNorm(), Recorder()], **quiet())
    vaelab.fit(tiny_vae(), x, epochs=2, batch_size=16, run_dir=tmp_path / "resumed",
               callbacks=[DecoderNorm()], **quiet())
    recorder = Recorder()
    vaelab.fit(tiny_vae(), x, epochs=4, batch_size=16, run_dir=tmp_path / "resumed", resume=True,
               callbacks=[DecoderNorm(), recorder], **quiet())
    assert numbers("watched") == numbers("plain") == numbers("resumed")
    assert [r["weight_norm"] for r in read_metrics(tmp_path / "resumed")] == \
        [r["weight_norm"] for r in read_metrics(tmp_path / "watched")]
    assert recorder.calls[0] == ("on_train_start", 0) and recorder.calls[1] == ("on_epoch_start", 2)
    a, b = (load_file(str(tmp_path / name / CHECKPOINT)) for name in ("plain", "resumed"))
    for name in a:
        if not name.startswith("rng"):
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_train_end_is_called_when_training_fails(tmp_path: Path) -> None:
    calls = []

    def poisoned(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        calls.append(1)  # the first call is fit's check of the first batch, the next the first step
        loss = elbo(model, batch).loss
        return loss if len(calls) < 4 else loss * float("nan")

    recorder = Recorder()
    with pytest.raises(NonFiniteLossError, match="step 2"):
        vaelab.fit(tiny_vae(), binary_data(), objective=poisoned, epochs=1, batch_size=32,
                   run_dir=tmp_path / "r", callbacks=[recorder], **quiet())
    assert recorder.calls[-2:] == [("on_batch_end", 0), ("on_train_end", 0)]


def test_functions_are_callbacks_of_the_epoch_and_are_closed() -> None:
    class Closable:
        closed = False

        def __call__(self, model: torch.nn.Module, record: dict) -> None: ...

        def close(self) -> None:
            self.closed = True

    function = Closable()
    callback = as_callback(function)
    assert isinstance(callback, EveryEpoch)
    callback.on_train_end(None)  # type: ignore[arg-type]
    assert function.closed
    recorder = Recorder()
    assert as_callback(recorder) is recorder
    with pytest.raises(TypeError, match="a vaelab.Callback or a function"):
        as_callback(3)  # type: ignore[arg-type]


class FakeWriter:
    """Stands in for TensorBoard's SummaryWriter (an optional extra)."""

    def __init__(self, log_dir: str) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.images: list[str] = []
        self.closed = False

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def add_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        self.images.append(tag)

    def flush(self) -> None: ...

    def close(self) -> None:
        self.closed = True


def test_the_tensorboard_logger_is_a_callback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vaelab.reports.tensorboard.summary_writer_class", lambda: FakeWriter)
    logger = TensorBoardLogger(tmp_path / "tb")
    writers: list[FakeWriter] = []

    class Keep(Callback):  # the writer as the logger leaves it after the last epoch
        def on_checkpoint(self, loop: Loop, record: dict[str, Any]) -> None:
            writers.append(logger.writer)

    vaelab.fit(tiny_vae(), binary_data(), epochs=2, batch_size=32, run_dir=tmp_path / "r",
               callbacks=[logger, Keep()], **quiet())
    writer = writers[-1]
    assert ("bound/train", pytest.approx(read_metrics(tmp_path / "r")[1]["train_bound"]), 2) in writer.scalars
    assert writer.images == ["samples", "samples"] and writer.closed and logger.writer is None
