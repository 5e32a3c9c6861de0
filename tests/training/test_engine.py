"""The loop engine keeps the best weights by the task's criterion: scripted validation records."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from vaelab.objectives import ObjectiveValue
from vaelab.runs.checkpoint import LoopState, load_checkpoint
from vaelab.runs.distributed import Distributed
from vaelab.runs.files import BEST_WEIGHTS
from vaelab.training.callbacks import Callback
from vaelab.training.engine import Loop, LoopSettings, NonFiniteLossError, TrainingTask, run_training

#: per epoch: (validation bound, validation error); the bound rises throughout, the error is
#: lowest first at epoch 3 and again at epoch 5 (a tie: the first is kept)
SCRIPT = [(-120.0, 0.30), (-110.0, 0.25), (-105.0, 0.20), (-104.0, 0.22), (-103.0, 0.20)]


class OneBatch:
    """One step per epoch on a fixed batch."""

    def steps_per_epoch(self, context: Distributed) -> int:
        return 1

    def epoch(self, epoch: int, context: Distributed, whole: bool = False) -> Iterator[tuple[Any, int]]:
        yield torch.ones(4, 2), 4


def squared(model: torch.nn.Module, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
    loss = model(x).pow(2).mean()
    return ObjectiveValue(loss=loss, bound=-loss.detach().expand(x.shape[0]), terms={})


def train_scripted(run_dir: Path, select: bool, patience: int = 0,
                   script: list[tuple[float, float]] = SCRIPT) -> tuple[list[dict], torch.nn.Module]:
    """Five epochs whose validation bound and error follow `script`; the weights after each."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    epochs = iter(script)
    current: dict[str, float] = {}
    weights: list[dict] = []

    class Scripted(Callback):
        def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
            current["bound"], current["error"] = next(epochs)
            record["valid_error"] = current["error"]

        def on_checkpoint(self, loop: Loop, record: dict[str, Any]) -> None:
            weights.append({k: v.clone() for k, v in loop.model.state_dict().items()})

    task = TrainingTask(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), objective=squared,
        batches=OneBatch(), learning_rate=lambda epoch, seconds: 0.1,
        save_config=lambda path: path.write_text("{}"),
        validate=lambda model: current["bound"], select_by="valid_error" if select else None)
    run_training(task, LoopSettings(epochs=len(script), patience=patience), run_dir,
                 Distributed(rank=0, world_size=1, device=torch.device("cpu")), progress=False,
                 log=lambda _: None, callbacks=[Scripted()])
    return weights, model


def test_the_task_criterion_keeps_the_first_epoch_with_the_lowest_error(tmp_path: Path) -> None:
    weights, model = train_scripted(tmp_path, select=True)
    kept = load_file(tmp_path / BEST_WEIGHTS)
    for name, value in weights[2].items():  # epoch 3
        torch.testing.assert_close(kept[name], value)
    assert load_checkpoint(tmp_path, model).best_epoch == 3


def test_without_a_criterion_the_validation_bound_keeps_the_weights(tmp_path: Path) -> None:
    weights, model = train_scripted(tmp_path, select=False)
    kept = load_file(tmp_path / BEST_WEIGHTS)
    for name, value in weights[4].items():  # epoch 5, the highest bound
        torch.testing.assert_close(kept[name], value)
    assert load_checkpoint(tmp_path, model).best_epoch == 5


def test_patience_counts_epochs_without_a_lower_error(tmp_path: Path) -> None:
    # epochs 4 and 5 do not lower the error of epoch 3 (5 only ties it): patience 2 stops after 5
    train_scripted(tmp_path / "a", select=True, patience=2)
    assert load_checkpoint(tmp_path / "a", torch.nn.Linear(2, 1)).stopped_early
    # by the bound every epoch improves: no early stop
    train_scripted(tmp_path / "b", select=False, patience=2)
    assert not load_checkpoint(tmp_path / "b", torch.nn.Linear(2, 1)).stopped_early


def test_a_non_finite_validation_score_stops_the_run_keeping_the_epoch_before(tmp_path: Path) -> None:
    # a NaN bound is never "best": without this stop the run would keep its initial weights
    script = [(-120.0, 0.3), (float("nan"), 0.3), (-100.0, 0.3)]
    with pytest.raises(NonFiniteLossError, match="validation bound is nan after epoch 2"):
        train_scripted(tmp_path, select=False, script=script)
    assert load_checkpoint(tmp_path, torch.nn.Linear(2, 1)).epoch == 1


def test_a_step_with_a_huge_or_non_finite_gradient_is_skipped() -> None:
    from vaelab.training.engine import train_step

    weight = torch.nn.Parameter(torch.ones(3))
    model = torch.nn.ParameterList([weight])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)

    def scaled(factor: float) -> Any:
        def objective(model: torch.nn.Module, x: Any, kl_weight: float) -> ObjectiveValue:
            loss = factor * (weight * x).sum()  # gradient norm factor·√3
            return ObjectiveValue(loss=loss, bound=-loss.detach().expand(1), terms={})
        return objective

    x = torch.tensor(1.0)
    value = train_step(model, optimizer, scaled(1e6), x, grad_clip=1.0, grad_skip=100.0)
    assert float(value.terms["skipped_update"]) == 1.0 and float(value.terms["huge_gradient"]) == 1.0
    assert torch.equal(weight.detach(), torch.ones(3))
    value = train_step(model, optimizer, scaled(10.0), x, grad_clip=1.0, grad_skip=100.0)
    assert float(value.terms["skipped_update"]) == 0.0
    torch.testing.assert_close((torch.ones(3) - weight.detach()).norm(), torch.tensor(1.0))  # clipped
    weight.data.fill_(1.0)

    def infinite_gradient(model: torch.nn.Module, x: Any, kl_weight: float) -> ObjectiveValue:
        loss = torch.sqrt(weight - 1.0).sum()  # 0, with an infinite gradient at weight = 1
        return ObjectiveValue(loss=loss, bound=-loss.detach().expand(1), terms={})

    value = train_step(model, optimizer, infinite_gradient, x, grad_clip=1.0, grad_skip=100.0)
    assert float(value.terms["skipped_update"]) == 1.0 and torch.equal(weight.detach(), torch.ones(3))
    # an infinite guard: any finite gradient is taken, only a non-finite one skipped
    value = train_step(model, optimizer, scaled(1e6), x, grad_clip=0.0, grad_skip=math.inf)
    assert float(value.terms["skipped_update"]) == 0.0 and not torch.equal(weight.detach(), torch.ones(3))
    weight.data.fill_(1.0)
    value = train_step(model, optimizer, infinite_gradient, x, grad_skip=math.inf)
    assert float(value.terms["skipped_update"]) == 1.0 and torch.equal(weight.detach(), torch.ones(3))


class FourBatches:
    """Four steps per epoch on a fixed batch."""

    def steps_per_epoch(self, context: Distributed) -> int:
        return 4

    def epoch(self, epoch: int, context: Distributed, whole: bool = False) -> Iterator[tuple[Any, int]]:
        for _ in range(4):
            yield torch.ones(4, 2), 4


def train_with_huge_steps(run_dir: Path, huge_calls: set[int], epochs: int = 2,
                          nan_calls: frozenset[int] = frozenset()) -> tuple[
        list[str], list[dict], torch.nn.Module, list[dict]]:
    """A linear model trained by SGD whose objective's gradient is huge on the `huge_calls`-th
    calls (counted from 0); the lines said, the records, the model and the weights at each epoch's
    start."""
    from vaelab.training import read_metrics

    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    calls = iter(range(10**6))
    starts: list[dict] = []

    def objective(model: torch.nn.Module, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
        call = next(calls)
        loss = model(x).pow(2).mean() * (1e9 if call in huge_calls else 1.0)
        if call in nan_calls:
            loss = loss * float("nan")
        return ObjectiveValue(loss=loss, bound=-loss.detach().expand(x.shape[0]), terms={})

    class Starts(Callback):
        def on_epoch_start(self, loop: Loop) -> None:
            starts.append({k: v.clone() for k, v in loop.model.state_dict().items()})

    said: list[str] = []
    task = TrainingTask(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.01), objective=objective,
        batches=FourBatches(), learning_rate=lambda epoch, seconds: 0.01,
        save_config=lambda path: path.write_text("{}"), validate=None)
    try:
        run_training(task, LoopSettings(epochs=epochs, grad_skip=1e3), run_dir,
                     Distributed(rank=0, world_size=1, device=torch.device("cpu")), progress=False,
                     log=said.append, callbacks=[Starts()])
    finally:
        records = read_metrics(run_dir) if (run_dir / "metrics.jsonl").is_file() else []
    return said, records, model, starts


def test_a_streak_of_huge_gradients_sets_the_epoch_back_to_its_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaelab.training import rewind

    monkeypatch.setattr(rewind, "MAX_SKIPS_IN_A_ROW", 2)
    # epoch 1: a good step, then two huge ones in a row (a rewind), then a good one
    said, records, model, starts = train_with_huge_steps(tmp_path / "run", huge_calls={1, 2}, epochs=1)
    assert [r["rewinds"] for r in records] == [1]
    assert any("rewind 1 of at most 3 in epoch 1" in line for line in said)
    # after the rewind: the epoch-start weights plus the one good step taken after it
    expected = torch.nn.Linear(2, 1)
    expected.load_state_dict(starts[0])
    optimizer = torch.optim.SGD(expected.parameters(), lr=0.01)
    optimizer.zero_grad()
    expected(torch.ones(4, 2)).pow(2).mean().backward()
    optimizer.step()
    for name, value in expected.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)
    # a guard no gradient reaches: no rewind, the record says 0
    _, records, _, _ = train_with_huge_steps(tmp_path / "calm", huge_calls=set(), epochs=1)
    assert [r["rewinds"] for r in records] == [0]
    assert LoopState(**{"epoch": 3}).skip_streak == 0  # a checkpoint from before the streak


def test_an_epoch_that_cannot_be_rewound_out_of_its_streak_stops_with_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaelab.training import rewind

    monkeypatch.setattr(rewind, "MAX_SKIPS_IN_A_ROW", 1)
    monkeypatch.setattr(rewind, "MAX_REWINDS_PER_EPOCH", 2)
    # epoch 1 trains; in epoch 2 every step is huge: rewound twice, then the run stops
    with pytest.raises(NonFiniteLossError, match="training diverged in epoch 2.*2 times.*--grad-skip"):
        train_with_huge_steps(tmp_path / "run", huge_calls=set(range(4, 100)), epochs=2)
    assert load_checkpoint(tmp_path / "run", torch.nn.Linear(2, 1)).epoch == 1  # epoch 1 kept


def test_an_epoch_that_skips_most_steps_says_the_guard_is_set_too_low(tmp_path: Path) -> None:
    from tests.training.helpers import tiny_config
    from vaelab.training import fit

    said: list[str] = []
    fit(tiny_config(epochs=1, batch_size=16, grad_skip=1e-6, grad_clip=1.0, eval_examples=0),
        tmp_path / "low", progress=False, log=said.append)
    (warning,) = [line for line in said if line.startswith("warning:")]
    # 50 skips in a row before steps are clipped and taken: all 16 steps of the epoch skipped
    assert "100% of epoch 1's steps were skipped" in warning and "--grad-skip 1e-06" in warning
    said.clear()
    fit(tiny_config(epochs=1, batch_size=16, grad_skip=1e9, eval_examples=0), tmp_path / "calm",
        progress=False, log=said.append)
    assert said and not any(line.startswith("warning:") for line in said)


def test_weight_decay_shrinks_each_weight_by_lr_times_decay_and_is_off_by_default() -> None:
    from vaelab.training.engine import make_optimizer

    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in net.parameters()]
    plain = make_optimizer(net, 0.1)
    assert plain.param_groups[0]["weight_decay"] == 0
    decayed = make_optimizer(net, 0.1, weight_decay=0.5)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)  # Adam's step is 0: only the decay moves the weights
    decayed.step()
    for old, new in zip(before, net.parameters(), strict=True):
        assert torch.allclose(new, old * (1 - 0.1 * 0.5))


def test_a_streak_that_runs_on_into_the_next_epoch_rewinds_to_where_it_began(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaelab.training import rewind

    monkeypatch.setattr(rewind, "MAX_SKIPS_IN_A_ROW", 3)
    # the last two steps of epoch 1 and the first of epoch 2 are huge: a streak of 3 across the
    # boundary, set back to epoch 1's start (epoch 2's would hold the weights the streak began on)
    said, records, model, starts = train_with_huge_steps(tmp_path / "run", huge_calls={2, 3, 4}, epochs=2)
    assert [r["rewinds"] for r in records] == [0, 1]
    assert any("rewind 1 of at most 3 in epoch 2" in line for line in said)
    expected = torch.nn.Linear(2, 1)
    expected.load_state_dict(starts[0])  # epoch 1's start, then epoch 2's three good steps
    optimizer = torch.optim.SGD(expected.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        expected(torch.ones(4, 2)).pow(2).mean().backward()
        optimizer.step()
    for name, value in expected.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)


def test_with_a_guard_a_non_finite_loss_is_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    said, records, model, starts = train_with_huge_steps(tmp_path / "run", huge_calls=set(), epochs=1,
                                                         nan_calls=frozenset({1}))
    (record,) = records
    assert record["nonfinite_steps"] == 1 and record["rewinds"] == 0
    assert math.isfinite(record["train_bound"])  # the mean of the three finite steps
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # every step NaN: rewinds, then one clear error
    with pytest.raises(NonFiniteLossError):
        train_with_huge_steps(tmp_path / "nan", huge_calls=set(), epochs=1, nan_calls=frozenset(range(1000)))
