"""`vaelab.fit`: a model the user builds, trained by the one loop with every feature of the CLI's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import Dataset

import vaelab
from vaelab.data.pendulum import PendulumConfig, generate_splits
from vaelab.models import ModelConfig, SSMConfig, build_ssm, build_vae
from vaelab.objectives import ObjectiveValue, elbo
from vaelab.training import CHECKPOINT, NonFiniteLossError

SHAPE = (1, 6, 6)


def tiny_vae(seed: int = 0) -> vaelab.VAE:
    torch.manual_seed(seed)
    return build_vae(ModelConfig(latent_dim=2, hidden=(16,)), SHAPE)


def binary_data(n: int = 96, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(3, *SHAPE, generator=generator) > 0.5
    return prototypes[torch.arange(n) % 3].float()


def quiet() -> dict:
    return {"progress": False, "log": lambda _message: None}


def test_fit_trains_a_model_and_returns_its_history(tmp_path: Path) -> None:
    x = binary_data()
    model = tiny_vae()
    before = elbo(model, x).bound.mean().item()
    run = vaelab.fit(model, x, valid=x[:32], epochs=6, batch_size=16, lr=1e-2, run_dir=tmp_path / "r",
                     **quiet())
    assert run.model is model and not model.training
    assert [r["epoch"] for r in run.history] == list(range(1, 7))
    assert run.history[-1]["valid_bound"] > before + 1.0  # it learned
    assert (tmp_path / "r" / CHECKPOINT).is_file() and (tmp_path / "r" / "model_best.safetensors").is_file()
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["kind"] == "custom" and saved["model_class"] == "VAE"


def test_resume_continues_to_the_same_numbers(tmp_path: Path) -> None:
    x = binary_data()
    straight = vaelab.fit(tiny_vae(), x, epochs=4, batch_size=16, run_dir=tmp_path / "a", **quiet())
    vaelab.fit(tiny_vae(), x, epochs=2, batch_size=16, run_dir=tmp_path / "b", **quiet())
    resumed = vaelab.fit(tiny_vae(), x, epochs=4, batch_size=16, run_dir=tmp_path / "b", resume=True,
                         **quiet())
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    a, b = (load_file(str(tmp_path / name / CHECKPOINT)) for name in ("a", "b"))
    for key in (k for k in a if k.startswith("model.")):
        assert torch.equal(a[key], b[key])


def test_uint8_pixels_are_binarized_for_a_bernoulli_model(tmp_path: Path) -> None:
    pixels = (torch.rand(64, *SHAPE) * 255).to(torch.uint8)
    seen: list[torch.Tensor] = []

    def watching(model: nn.Module, batch: torch.Tensor) -> ObjectiveValue:
        seen.append(batch)
        return elbo(model, batch)

    vaelab.fit(tiny_vae(), pixels, objective=watching, epochs=1, batch_size=32, run_dir=tmp_path,
               **quiet())
    assert seen and all(set(b.unique().tolist()) <= {0.0, 1.0} for b in seen)


def test_0_1_pixels_stored_as_uint8_are_used_as_they_are_in_training_and_evaluation(
        tmp_path: Path) -> None:
    x = binary_data()  # 0/1 floats; the same values as uint8 must not be read as grey levels
    as_float = vaelab.fit(tiny_vae(), x, epochs=2, batch_size=32, run_dir=tmp_path / "f", **quiet())
    as_bytes = vaelab.fit(tiny_vae(), x.to(torch.uint8), epochs=2, batch_size=32, run_dir=tmp_path / "b",
                          **quiet())
    assert [r["train_loss"] for r in as_bytes.history] == [r["train_loss"] for r in as_float.history]
    scores = [vaelab.evaluate(as_float.model, data, k=4)["log_px_is"]["mean"]
              for data in (x, x.to(torch.uint8), x.numpy().astype(np.uint8))]
    assert scores[1] == pytest.approx(scores[0]) and scores[2] == pytest.approx(scores[0])


def test_a_dataset_of_grey_uint8_images_trains_as_the_same_images_in_a_tensor(tmp_path: Path) -> None:
    pixels = (torch.rand(64, *SHAPE, generator=torch.Generator().manual_seed(3)) * 255).to(torch.uint8)
    tensor = vaelab.fit(tiny_vae(), pixels, epochs=2, batch_size=32, run_dir=tmp_path / "t", **quiet())
    dataset = vaelab.fit(tiny_vae(), Pairs(pixels), epochs=2, batch_size=32, run_dir=tmp_path / "d",
                         **quiet())
    assert [r["train_loss"] for r in dataset.history] == pytest.approx(
        [r["train_loss"] for r in tensor.history])


def test_data_a_likelihood_cannot_score_is_refused_naming_it(tmp_path: Path) -> None:
    x = binary_data()
    nan = x.clone()
    nan[3, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="training data holds values other than 0 and 1 but the "
                                         "likelihood is Bernoulli"):
        vaelab.fit(tiny_vae(), x * 0.5, epochs=1, run_dir=tmp_path / "grey", **quiet())
    with pytest.raises(ValueError, match="validation data holds NaN"):
        vaelab.fit(tiny_vae(), x, valid=nan, epochs=1, run_dir=tmp_path / "nan", **quiet())
    with pytest.raises(ValueError, match=r"training data \(a batch of the Dataset\) holds NaN"):
        vaelab.fit(tiny_vae(), Pairs(nan), epochs=1, run_dir=tmp_path / "ds", **quiet())
    with pytest.raises(ValueError, match="the test data holds values other than 0 and 1"):
        vaelab.evaluate(tiny_vae(), x * 255, k=2)
    assert not any(tmp_path.iterdir())  # refused before any run folder was made


def test_a_failed_start_leaves_nothing_behind_and_the_retry_runs(tmp_path: Path) -> None:
    x = binary_data()
    with pytest.raises(ValueError, match="first batch of the training data.*of shape"):
        vaelab.fit(tiny_vae(), x.flatten(1), epochs=1, run_dir=tmp_path / "r", **quiet())
    with pytest.raises(ValueError, match="first batch of the validation data.*of shape"):
        vaelab.fit(tiny_vae(), x, valid=x.flatten(1), epochs=1, run_dir=tmp_path / "r", **quiet())
    assert not (tmp_path / "r").exists()
    run = vaelab.fit(tiny_vae(), x, epochs=1, run_dir=tmp_path / "r", **quiet())
    assert len(run.history) == 1


def test_resume_refuses_other_settings_and_records_a_longer_budget(tmp_path: Path) -> None:
    x = binary_data()
    vaelab.fit(tiny_vae(), x, epochs=1, batch_size=32, run_dir=tmp_path, **quiet())
    with pytest.raises(ValueError, match=r"these differ: objective: 'elbo' -> 'iwae'; samples: 1 -> 3"):
        vaelab.fit(tiny_vae(), x, objective="iwae", samples=3, epochs=2, batch_size=32, run_dir=tmp_path,
                   resume=True, **quiet())
    with pytest.raises(ValueError, match=r"batch_size: 32 -> 16.*seed: 0 -> 4"):
        vaelab.fit(tiny_vae(), x, epochs=2, batch_size=16, seed=4, run_dir=tmp_path, resume=True, **quiet())
    run = vaelab.fit(tiny_vae(), x, epochs=3, batch_size=32, patience=2, run_dir=tmp_path, resume=True,
                     **quiet())
    assert len(run.history) == 3
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["loop"]["epochs"] == 3 and saved["loop"]["patience"] == 2


def test_resume_with_fewer_epochs_than_trained_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    x = binary_data()
    vaelab.fit(tiny_vae(), x, epochs=2, batch_size=32, run_dir=tmp_path, **quiet())
    saved = (tmp_path / "config.json").read_bytes()
    with pytest.raises(ValueError, match=r"already trained 2 epochs; epochs=1 is fewer"):
        vaelab.fit(tiny_vae(), x, epochs=1, batch_size=32, run_dir=tmp_path, resume=True, **quiet())
    assert (tmp_path / "config.json").read_bytes() == saved
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_a_time_budget_without_epochs_trains_until_it(tmp_path: Path) -> None:
    from vaelab.training.config_files import MAX_EPOCHS

    lines: list[str] = []
    run = vaelab.fit(tiny_vae(), binary_data(), time_budget=0.0005, batch_size=16, run_dir=tmp_path / "b",
                     progress=False, log=lines.append)
    assert run.state.out_of_time
    assert json.loads((tmp_path / "b" / "config.json").read_text())["loop"]["epochs"] == MAX_EPOCHS
    assert "vaelab.fit(..., resume=True) with a larger time_budget continues" in lines[-1]
    assert lines[0].startswith("epoch 1 ")  # no "/100000"
    run = vaelab.fit(tiny_vae(), binary_data(), batch_size=32, run_dir=tmp_path / "e", **quiet())
    assert len(run.history) == 10  # without a budget, 10 epochs as before


class Pairs(Dataset):
    """A Dataset of (image, label) pairs, as torchvision-style datasets give them."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], index % 3


def test_a_dataset_and_a_plain_loss_function_train(tmp_path: Path) -> None:
    x = binary_data()

    def loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return elbo(model, batch).loss

    run = vaelab.fit(tiny_vae(), Pairs(x), valid=Pairs(x[:16]), objective=loss, epochs=3, batch_size=32,
                     lr=1e-2, run_dir=tmp_path, **quiet())
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]
    assert run.history[-1]["valid_bound"] is not None


def test_callbacks_warm_up_and_early_stopping(tmp_path: Path) -> None:
    records: list[dict] = []
    run = vaelab.fit(tiny_vae(), binary_data(), valid=binary_data(32, seed=9), epochs=50, batch_size=32,
                     lr=1e-6, kl_warmup_steps=6, patience=1, callbacks=[lambda m, r: records.append(r)],
                     run_dir=tmp_path, **quiet())
    assert records == run.history and len(records) < 50  # stopped early: lr 1e-6 cannot improve much
    assert records[0]["kl_weight"] == pytest.approx(3 / 6)


def test_a_nan_names_its_step(tmp_path: Path) -> None:
    def poisoned(model: nn.Module, batch: torch.Tensor, kl_weight: float) -> ObjectiveValue:
        value = elbo(model, batch)
        return ObjectiveValue(value.loss * float("nan"), value.bound, {"kl": value.loss * float("nan")})

    with pytest.raises(NonFiniteLossError, match="step 0.*kl"):
        vaelab.fit(tiny_vae(), binary_data(), objective=poisoned, epochs=1, run_dir=tmp_path, **quiet())


def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown objective 'elbow'"):
        vaelab.fit(tiny_vae(), binary_data(), objective="elbow", run_dir=tmp_path, **quiet())
    with pytest.raises(TypeError, match="cannot train on list"):
        vaelab.fit(tiny_vae(), [1, 2, 3], run_dir=tmp_path, **quiet())
    with pytest.raises(ValueError, match="resume=True needs the run_dir"):
        vaelab.fit(tiny_vae(), binary_data(), resume=True, **quiet())
    with pytest.raises(FileNotFoundError, match="missing does not exist"):
        vaelab.fit(tiny_vae(), binary_data(), resume=True, run_dir=tmp_path / "missing", **quiet())
    with pytest.raises(FileExistsError, match="already holds a run"):
        vaelab.fit(tiny_vae(), binary_data(), epochs=0, run_dir=tmp_path / "x", **quiet())
        vaelab.fit(tiny_vae(), binary_data(), epochs=0, run_dir=tmp_path / "x", **quiet())


def test_numpy_arrays_and_reloading_weights(tmp_path: Path) -> None:
    x = binary_data().numpy().astype(np.float32)
    run = vaelab.fit(tiny_vae(), x, epochs=2, batch_size=32, run_dir=tmp_path, **quiet())
    with pytest.raises(ValueError, match="construct it again"):
        vaelab.load(tmp_path)
    again = vaelab.load_weights(tiny_vae(seed=5), tmp_path)
    for mine, theirs in zip(again.state_dict().values(), run.model.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)


def test_a_state_space_model_trains_on_sequences(tmp_path: Path) -> None:
    splits = generate_splits(PendulumConfig(train_sequences=8, train_length=10, valid_sequences=2,
                                            valid_length=10, test_sequences=2, test_length=10,
                                            image_size=16))
    train = splits["train"]
    torch.manual_seed(0)
    model = build_ssm(SSMConfig(encoder_hidden=(16, 8), rnn_hidden=8, combiner_hidden=8,
                                decoder_hidden=(16,), transition_hidden=8),
                      train.frame_shape, train.dt, 1)
    run = vaelab.fit(model, train, valid=splits["valid"], epochs=2, batch_size=4, window=6,
                     run_dir=tmp_path, **quiet())
    assert len(run.history) == 2 and "g_over_L" in run.history[-1]
    result = vaelab.evaluate(model, splits["test"], k=3)
    assert result["sequences"] == 2 and np.isfinite(result["smc_per_frame"]["mean"])


def test_tensorboard_logs_a_fit_run(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    logger = vaelab.TensorBoardLogger(tmp_path / "r" / "tensorboard")
    vaelab.fit(tiny_vae(), binary_data(), epochs=2, run_dir=tmp_path / "r", callbacks=[logger], **quiet())
    assert list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))


def test_every_public_name_is_documented() -> None:
    for name in vaelab.__all__:
        if name != "__version__":
            assert getattr(vaelab, name).__doc__, f"vaelab.{name} has no docstring"


def test_checking_the_first_batches_changes_no_training_number(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from vaelab.training import fit_model

    x = binary_data()
    checked = vaelab.fit(tiny_vae(), x, valid=x[:32], epochs=2, batch_size=32, run_dir=tmp_path / "a",
                         **quiet())
    monkeypatch.setattr(fit_model, "_preflight", lambda *args: None)
    unchecked = vaelab.fit(tiny_vae(), x, valid=x[:32], epochs=2, batch_size=32, run_dir=tmp_path / "b",
                           **quiet())
    drop = ("seconds",)
    assert ([{k: v for k, v in r.items() if k not in drop} for r in checked.history]
            == [{k: v for k, v in r.items() if k not in drop} for r in unchecked.history])


def test_an_objective_that_takes_gradients_itself_trains(tmp_path: Path) -> None:
    def penalised(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        loss = elbo(model, batch).loss
        grads = torch.autograd.grad(loss, list(model.parameters()), create_graph=True)
        return loss + 1e-3 * sum(g.pow(2).sum() for g in grads)

    run = vaelab.fit(tiny_vae(), binary_data(), objective=penalised, epochs=1, batch_size=32,
                     run_dir=tmp_path, **quiet())
    assert len(run.history) == 1


def test_fit_takes_the_config_names_of_shared_settings_and_their_ranges(tmp_path: Path) -> None:
    """learning_rate= and time_budget_minutes= as in [train]; lr= and time_budget= stay the same."""
    with pytest.raises(ValueError, match="learning_rate and lr are one setting"):
        vaelab.fit(tiny_vae(), binary_data(), learning_rate=1e-3, lr=1e-3, run_dir=tmp_path / "a")
    with pytest.raises(ValueError, match=r"epochs: must be in \[0, 100000\], got -1"):
        vaelab.fit(tiny_vae(), binary_data(), epochs=-1, run_dir=tmp_path / "b")
    with pytest.raises(ValueError, match=r"time_budget_minutes: must be >= 0"):
        vaelab.fit(tiny_vae(), binary_data(), time_budget_minutes=-1.0, run_dir=tmp_path / "c")
    run = vaelab.fit(tiny_vae(), binary_data(), epochs=1, batch_size=32, learning_rate=1e-2,
                     run_dir=tmp_path / "d", **quiet())
    assert json.loads((run.run_dir / "config.json").read_text())["learning_rate"] == 1e-2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_ema_decay_returns_the_weight_average_and_resumes_it(tmp_path: Path) -> None:
    from vaelab.runs.checkpoint import checkpoint_average

    x = binary_data()
    run = vaelab.fit(tiny_vae(), x, epochs=3, batch_size=16, ema_decay=0.9, run_dir=tmp_path / "a", **quiet())
    average = checkpoint_average(tmp_path / "a")
    assert average is not None
    for name, value in run.model.state_dict().items():
        torch.testing.assert_close(value, average[f"module.{name}"])
    vaelab.fit(tiny_vae(), x, epochs=1, batch_size=16, ema_decay=0.9, run_dir=tmp_path / "b", **quiet())
    resumed = vaelab.fit(tiny_vae(), x, epochs=3, batch_size=16, ema_decay=0.9, run_dir=tmp_path / "b",
                         resume=True, **quiet())
    for name, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, run.model.state_dict()[name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="ema_decay"):
        vaelab.fit(tiny_vae(), x, epochs=1, ema_decay=1.0, run_dir=tmp_path / "c", **quiet())
