"""The weight average (train.ema_decay): the EMA itself, and what the loop does with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from vaelab.objectives import ObjectiveValue
from vaelab.runs.checkpoint import checkpoint_average, load_checkpoint, saved_model_state
from vaelab.runs.distributed import Distributed
from vaelab.runs.files import BEST_WEIGHTS
from vaelab.training.averaging import WeightAverage
from vaelab.training.callbacks import Callback
from vaelab.training.engine import Loop, LoopSettings, TrainingTask, run_training

CPU = Distributed(rank=0, world_size=1, device=torch.device("cpu"))


def test_the_average_is_the_exponential_moving_average_of_the_weights_after_each_step() -> None:
    net = torch.nn.Linear(2, 1)
    net.weight.data.fill_(1.0)
    average = WeightAverage(net, decay=0.75)
    expected = torch.ones(1, 2)  # starts at the weights
    for n, value in enumerate((5.0, -3.0, 2.0, 4.0, 1.0, -2.0, 0.5, 3.0)):
        net.weight.data.fill_(value)
        average.update(net)
        decay = min(0.75, (1 + n) / (10 + n))  # warming up: 0.1, 0.18, ..., then 0.75 from n = 26
        expected = decay * expected + (1 - decay) * value
    torch.testing.assert_close(average.module.weight, expected)
    assert average.current_decay() == pytest.approx(9 / 18)
    later = WeightAverage(net, decay=0.75)
    later.load_state_dict(average.state_dict())  # the warm-up resumes where it was
    assert later.current_decay() == average.current_decay()
    for _ in range(40):
        average.update(net)
    assert average.current_decay() == 0.75
    assert not torch.equal(average.module.weight, net.weight)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(net, decay=1.0)


class Batches:
    """Two steps an epoch on fixed batches."""

    def steps_per_epoch(self, context: Distributed) -> int:
        return 2

    def epoch(self, epoch: int, context: Distributed, whole: bool = False) -> Any:
        generator = torch.Generator().manual_seed(epoch)
        for _ in range(2):
            yield torch.randn(8, 3, generator=generator), 8


def noisy_square(model: torch.nn.Module, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
    loss = (model(x) - 1.0 + 0.1 * torch.randn(x.shape[0], 1)).pow(2).mean()  # model noise: RNG in play
    return ObjectiveValue(loss=loss, bound=-loss.detach().expand(x.shape[0]), terms={})


def train(run_dir: Path, epochs: int, resume: bool = False, decay: float = 0.9,
          seen: list[dict[str, torch.Tensor]] | None = None) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)

    class Judged(Callback):  # what validation scores: the kept model, not the stepped one
        def on_epoch_end(self, loop: Loop, record: dict[str, Any]) -> None:
            if seen is not None:
                seen.append({"kept": loop.kept_model.weight.detach().clone(),
                             "stepped": loop.model.weight.detach().clone()})

    task = TrainingTask(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=0.05),
                        objective=noisy_square, batches=Batches(),
                        learning_rate=lambda epoch, seconds: 0.05,
                        save_config=lambda path: path.write_text("{}"),
                        validate=lambda judged: -float(judged.weight.detach().sum()))
    run_training(task, LoopSettings(epochs=epochs, ema_decay=decay), run_dir, CPU, resume=resume,
                 progress=False, log=lambda _: None, callbacks=[Judged()])
    return model


def test_the_run_keeps_the_average_and_its_checkpoint_keeps_both(tmp_path: Path) -> None:
    seen: list[dict[str, torch.Tensor]] = []
    model = train(tmp_path, epochs=3, seen=seen)
    average = checkpoint_average(tmp_path)
    assert average is not None and int(average["n_averaged"]) == 1 + 3 * 2  # the start, then each step
    raw = torch.nn.Linear(3, 1)
    load_checkpoint(tmp_path, raw)
    assert not torch.equal(raw.weight, average["module.weight"])  # raw weights, to resume from
    torch.testing.assert_close(model.weight.detach(), average["module.weight"])  # the model returned
    last, _ = saved_model_state(tmp_path, best=False)  # what loading a run's last weights gives
    assert torch.equal(last["weight"], average["module.weight"]) and "n_averaged" not in last
    best = load_file(tmp_path / BEST_WEIGHTS)["weight"]  # the best epoch's average
    assert any(torch.equal(best, s["kept"]) for s in seen)
    assert not any(torch.equal(best, s["stepped"]) for s in seen)


def test_a_resumed_run_continues_its_average_exactly(tmp_path: Path) -> None:
    straight = train(tmp_path / "straight", epochs=4)
    train(tmp_path / "resumed", epochs=2)
    resumed = train(tmp_path / "resumed", epochs=4, resume=True)
    torch.testing.assert_close(resumed.weight, straight.weight, rtol=0, atol=0)
    a, b = checkpoint_average(tmp_path / "straight"), checkpoint_average(tmp_path / "resumed")
    assert a is not None and b is not None
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_without_a_decay_the_checkpoint_holds_no_average(tmp_path: Path) -> None:
    model = train(tmp_path, epochs=1, decay=0.0)
    assert checkpoint_average(tmp_path) is None
    raw = torch.nn.Linear(3, 1)
    load_checkpoint(tmp_path, raw)
    assert torch.equal(raw.weight, model.weight)


def test_buffers_follow_the_model_not_the_average() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    average = WeightAverage(model, 0.9)
    model.train()
    model(torch.randn(16, 3) * 5 + 2)  # moves the running statistics
    average.update(model)
    torch.testing.assert_close(average.module[1].running_mean, model[1].running_mean)
    torch.testing.assert_close(average.module[1].running_var, model[1].running_var)
