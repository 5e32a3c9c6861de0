"""Speed switches: compiled and bf16 training steps compute the same objective."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch._dynamo.utils import counters

from tests.training.helpers import tiny_config
from vaelab.models.config import ModelConfig, build_model
from vaelab.objectives.registry import make_objective
from vaelab.training import CHECKPOINT, ConfigError, fast_path, fit, read_metrics
from vaelab.training.fast_path import compiled, precision_advice, with_autocast


def _model_and_batch() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=4, hidden=(64,)), (1, 28, 28))
    x = (torch.rand(32, 1, 28, 28) > 0.7).float()
    return model, x


def test_bf16_autocast_keeps_the_loss_float32_and_close() -> None:
    model, x = _model_and_batch()
    objective = make_objective("elbo", 1)
    torch.manual_seed(1)
    exact = objective(model, x, 1.0)
    torch.manual_seed(1)
    value = with_autocast(objective, "bf16", torch.device("cpu"))(model, x, 1.0)
    assert value.loss.dtype == torch.float32 and value.bound.dtype == torch.float32
    # bfloat16 keeps ~3 significant digits in the matrix products
    assert value.loss.item() == pytest.approx(exact.loss.item(), rel=0.02)
    assert value.loss.item() != exact.loss.item()  # autocast really ran in bf16
    value.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_fp32_leaves_the_objective_alone_and_unknown_precisions_are_refused() -> None:
    objective = make_objective("elbo", 1)
    assert with_autocast(objective, "fp32", torch.device("cpu")) is objective
    with pytest.raises(ValueError, match="fp16"):
        with_autocast(objective, "fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="train.precision"):
        tiny_config(precision="fp16")


def test_bf16_units_are_read_from_the_cpu_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n")
    assert fast_path._cpu_flags(cpuinfo) >= {"avx512f", "avx512_bf16"}
    assert fast_path._cpu_flags(tmp_path / "missing") is None
    monkeypatch.setattr(fast_path, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert fast_path.cpu_has_bf16_units()
    monkeypatch.setattr(fast_path, "_cpu_flags", lambda: {"avx512f", "avx512_vnni"})  # Skylake-SP
    assert not fast_path.cpu_has_bf16_units()


def test_bf16_on_a_cpu_without_bf16_units_comes_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_path, "cpu_has_bf16_units", lambda: False)
    assert "slower" in (precision_advice("bf16", torch.device("cpu")) or "")
    assert precision_advice("bf16", torch.device("cuda")) is None
    assert precision_advice("fp32", torch.device("cpu")) is None
    monkeypatch.setattr(fast_path, "cpu_has_bf16_units", lambda: True)
    assert precision_advice("bf16", torch.device("cpu")) is None


@pytest.mark.slow
def test_a_compiled_objective_computes_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    # aot_eager traces through dynamo and AOT autograd like inductor but runs eager kernels
    # (no C++ compiler needed, same random stream), so results must match exactly
    monkeypatch.setattr(fast_path, "COMPILE_BACKEND", "aot_eager")
    model, x = _model_and_batch()
    objective = make_objective("iwae", 5)
    torch.manual_seed(3)
    eager = objective(model, x, 1.0)
    torch.manual_seed(3)
    value = compiled(objective)(model, x, 1.0)
    assert torch.equal(value.bound, eager.bound) and torch.equal(value.loss, eager.loss)


def test_compiled_training_ends_with_the_same_weights(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    torch._dynamo.reset()
    counters.clear()
    monkeypatch.setattr(fast_path, "COMPILE_BACKEND", "aot_eager")
    quiet = {"progress": False, "log": lambda _: None}
    fit(tiny_config(epochs=1), tmp_path / "eager", **quiet)
    fit(tiny_config(epochs=1, compile=True), tmp_path / "compiled", **quiet)
    assert counters["stats"]["unique_graphs"] >= 1  # the training step really went through dynamo
    eager = load_file(str(tmp_path / "eager" / CHECKPOINT))
    fast = load_file(str(tmp_path / "compiled" / CHECKPOINT))
    for name, weight in eager.items():
        torch.testing.assert_close(fast[name], weight, rtol=1e-5, atol=1e-6)
    assert read_metrics(tmp_path / "compiled")[0]["train_bound"] == pytest.approx(
        read_metrics(tmp_path / "eager")[0]["train_bound"], rel=1e-5)


def test_an_iaf_guide_takes_a_bf16_autocast_step() -> None:
    """The flow guide under autocast: the loss stays float32 and every weight, the MADEs' too,
    gets a finite gradient."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=4, hidden=(64,), posterior="iaf:2"), (1, 28, 28))
    x = (torch.rand(16, 1, 28, 28) > 0.7).float()
    value = with_autocast(make_objective("elbo", 1), "bf16", torch.device("cpu"))(model, x, 1.0)
    assert value.loss.dtype == torch.float32 and torch.isfinite(value.loss)
    value.loss.backward()
    made = [p for name, p in model.named_parameters() if ".made." in name]
    assert made and all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
