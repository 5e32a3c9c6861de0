"""The training loop: learning, exact resume, reproducibility, failure messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.helpers import tiny_config
from vaelab.objectives import ObjectiveValue
from vaelab.training import (
    CHECKPOINT,
    CheckpointError,
    NonFiniteLossError,
    fit,
    kl_weight_at,
    read_metrics,
)
from vaelab.training import loop as fit_module
from vaelab.training.loop import check_finite


def _without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_training_improves_the_bound_and_writes_its_files(tmp_path: Path) -> None:
    model, loop = fit(tiny_config(epochs=4), tmp_path, progress=False, log=lambda _: None)
    records = read_metrics(tmp_path)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[-1]["valid_bound"] > records[0]["valid_bound"] + 20  # nats
    assert loop.step == 4 * 4  # 256 examples / batch 64
    for name in ("config.json", "metrics.jsonl", CHECKPOINT, "model_best.safetensors"):
        assert (tmp_path / name).is_file()


def test_same_seed_gives_the_same_numbers(tmp_path: Path) -> None:
    fit(tiny_config(seed=5), tmp_path / "a", progress=False, log=lambda _: None)
    fit(tiny_config(seed=5), tmp_path / "b", progress=False, log=lambda _: None)
    fit(tiny_config(seed=6), tmp_path / "c", progress=False, log=lambda _: None)
    a, b, c = (_without_time(read_metrics(tmp_path / n)) for n in "abc")
    assert a == b
    assert a != c


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    fit(tiny_config(epochs=3), tmp_path / "straight", progress=False, log=lambda _: None)
    fit(tiny_config(epochs=1), tmp_path / "split", progress=False, log=lambda _: None)
    # a crash after the metrics line but before the checkpoint leaves a line for epoch 2
    with open(tmp_path / "split" / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"epoch": 2, "train_bound": 0.0}) + "\n")
    fit(tiny_config(epochs=3), tmp_path / "split", resume=True, progress=False, log=lambda _: None)
    assert _without_time(read_metrics(tmp_path / "split")) == _without_time(
        read_metrics(tmp_path / "straight"))
    straight = load_file(str(tmp_path / "straight" / CHECKPOINT))
    resumed = load_file(str(tmp_path / "split" / CHECKPOINT))
    for key in straight:
        if key.startswith(("model.", "optimizer.")):
            assert torch.equal(straight[key], resumed[key]), key


def test_a_second_run_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    fit(tiny_config(epochs=1), tmp_path, progress=False, log=lambda _: None)
    with pytest.raises(FileExistsError, match="--resume"):
        fit(tiny_config(epochs=1), tmp_path, progress=False, log=lambda _: None)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    fit(tiny_config(epochs=1), tmp_path, progress=False, log=lambda _: None)
    path = tmp_path / CHECKPOINT
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="unreadable"):
        fit(tiny_config(epochs=2), tmp_path, resume=True, progress=False, log=lambda _: None)


def poison_step(monkeypatch: pytest.MonkeyPatch, at_call: int) -> None:
    """Make the training objective's `at_call`-th call return a NaN loss (and KL term)."""
    real = fit_module.make_objective

    def poisoned(name: str, samples: int, free_bits: float = 0.0, kl_balance: bool = False):
        objective = real(name, samples, free_bits, kl_balance)
        calls = {"n": 0}

        def run(model, x, kl_weight):
            value = objective(model, x, kl_weight)
            calls["n"] += 1
            if calls["n"] == at_call:
                nan = torch.tensor(float("nan"))
                return ObjectiveValue(value.loss * nan, value.bound, {**value.terms, "kl": nan})
            return value

        return run

    monkeypatch.setattr(fit_module, "make_objective", poisoned)


def test_nan_stops_training_naming_step_and_term(tmp_path: Path, monkeypatch) -> None:
    poison_step(monkeypatch, at_call=3)
    with pytest.raises(NonFiniteLossError, match=r"step 2 \(epoch 1\): term\(s\) kl"):
        fit(tiny_config(), tmp_path, progress=False, log=lambda _: None)


def test_a_new_run_that_turns_nan_in_its_first_epoch_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    poison_step(monkeypatch, at_call=3)
    with pytest.raises(NonFiniteLossError, match="no epoch finished, so nothing was kept"):
        fit(tiny_config(), run, progress=False, log=lambda _: None)
    assert not run.exists()
    monkeypatch.undo()
    fit(tiny_config(epochs=1), run, progress=False, log=lambda _: None)  # the same folder, a new try
    assert (run / CHECKPOINT).is_file()


def test_a_nan_after_finished_epochs_says_which_epoch_the_folder_keeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    poison_step(monkeypatch, at_call=6)  # in the second epoch (3 or 4 steps an epoch)
    with pytest.raises(NonFiniteLossError, match="keeps the checkpoint of epoch 1, the last before the NaN"):
        fit(tiny_config(epochs=3), tmp_path, progress=False, log=lambda _: None)
    assert (tmp_path / CHECKPOINT).is_file()


def test_check_finite_passes_finite_losses() -> None:
    value = ObjectiveValue(torch.tensor(1.0), torch.zeros(2), {"kl": torch.tensor(0.5)})
    check_finite(value, step=0, epoch=0)


def test_early_stopping_after_patience_epochs(tmp_path: Path, monkeypatch) -> None:
    scores = iter([-100.0, -101.0, -102.0, -99.0, -98.0])
    monkeypatch.setattr(fit_module, "held_out_bound", lambda model, images, kind, context: next(scores))
    logs: list[str] = []
    _, loop = fit(tiny_config(epochs=5, patience=2), tmp_path, progress=False, log=logs.append)
    assert loop.stopped_early and loop.epoch == 3 and loop.best_epoch == 1
    assert any("early stopping" in line for line in logs)


def test_kl_warmup_is_linear_then_one() -> None:
    assert kl_weight_at(0, 0) == 1.0
    assert kl_weight_at(0, 10) == pytest.approx(0.1)
    assert kl_weight_at(4, 10) == pytest.approx(0.5)
    assert kl_weight_at(50, 10) == 1.0


def test_gradient_clipping_and_iwae_objective_train(tmp_path: Path) -> None:
    _, loop = fit(tiny_config(objective="iwae", samples=3, grad_clip=1.0, epochs=2), tmp_path,
                  progress=False, log=lambda _: None)
    records = read_metrics(tmp_path)
    assert records[-1]["valid_bound"] > records[0]["valid_bound"]
    assert "train_ess" in records[0]


def test_resume_before_the_first_checkpoint_starts_over(tmp_path: Path) -> None:
    config = tiny_config(epochs=1)
    config.save(tmp_path / "config.json")  # a run killed while still in its first epoch
    logs: list[str] = []
    _, loop = fit(config, tmp_path, resume=True, progress=False, log=logs.append)
    assert loop.epoch == 1 and (tmp_path / CHECKPOINT).is_file()
    assert "before its first checkpoint" in logs[0]


def test_resuming_removes_what_a_killed_checkpoint_write_left(tmp_path: Path) -> None:
    import os

    from vaelab.atomic_files import temporary_beside

    fit(tiny_config(epochs=1), tmp_path, progress=False, log=lambda _: None)
    orphan = temporary_beside(tmp_path / CHECKPOINT)
    orphan.write_bytes(b"half a checkpoint")
    os.utime(orphan, (0, 0))
    said: list[str] = []
    fit(tiny_config(epochs=2), tmp_path, resume=True, progress=False, log=said.append)
    assert not orphan.exists()
    assert any(orphan.name in line and "interrupted write" in line for line in said)
    assert len(read_metrics(tmp_path)) == 2


def test_resuming_drops_redone_and_torn_metric_lines(tmp_path: Path) -> None:
    # a process killed while appending leaves half a line; the resume must not choke on it
    from vaelab.runs.metrics_log import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n\n{"epoch": 2}\n{"epoch": 3}\n{"epoch": 4, "tra')
    truncate_metrics(path, 2)
    assert path.read_text() == '{"epoch": 1}\n{"epoch": 2}\n'


def test_reading_metrics_skips_a_torn_line(tmp_path: Path) -> None:
    from vaelab.runs.metrics_log import read_metrics

    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n\n{"epoch": 2, "tra')
    assert read_metrics(tmp_path) == [{"epoch": 1}]
