"""Optional speed switches for the training step: torch.compile and bf16 autocast.

Both wrap the objective, so the loop, the models and the objectives stay unaware of them.
Evaluation (validation bound, log p(x) estimates) always runs eagerly in float32: the
likelihoods vaelab reports must not depend on a speed switch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from vaelab.choices import PRECISIONS as PRECISIONS
from vaelab.models.base import LatentVariableModel
from vaelab.objectives.result import ObjectiveValue

#: torch.compile backend; "inductor" generates kernels (needs a C++ compiler on CPU)
COMPILE_BACKEND = "inductor"

Objective = Callable[[LatentVariableModel, torch.Tensor, float], ObjectiveValue]


def with_autocast(objective: Objective, precision: str, device: torch.device) -> Objective:
    """The objective run under bf16 autocast on `device` ("bf16"), or unchanged ("fp32").

    Autocast runs matrix products in bfloat16 and keeps reductions such as the summed
    log-likelihood in float32; the loss the optimiser sees is float32 either way.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return objective

    def autocast_objective(model: LatentVariableModel, x: torch.Tensor, kl_weight: float) -> ObjectiveValue:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            value = objective(model, x, kl_weight)
        return ObjectiveValue(loss=value.loss.float(), bound=value.bound.float(),
                              terms={name: term.float() for name, term in value.terms.items()})

    return autocast_objective


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware: on Linux x86 the avx512_bf16
    or amx_bf16 flag of /proc/cpuinfo (oneDNN also counts plain AVX-512, where bf16 is
    emulated and slow); elsewhere (e.g. ARM) what oneDNN reports."""
    flags = _cpu_flags()
    if flags is not None:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The x86 feature flags of the first processor in `cpuinfo`, or None where there are none."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def precision_advice(precision: str, device: torch.device) -> str | None:
    """A warning for a precision that is likely to slow training down on `device`, else None.

    bf16 on a CPU pays only with bfloat16 matrix units: 1.4x faster for `--model deep` on an
    AVX512-BF16 EPYC, 15x slower on a CPU without them (bench/README.md)."""
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16_units():
        return ("bf16 autocast on a CPU without bfloat16 matrix units is slower than float32 "
                "(15x slower in bench/throughput.py on a 2-core x86 machine); it is meant for GPUs "
                "and CPUs with AVX512-BF16 or AMX")
    return None


def compiled(objective: Objective) -> Objective:
    """The objective compiled with torch.compile (traced into the model's methods on first call;
    a batch of another size, e.g. the epoch's last, triggers one recompilation)."""
    return torch.compile(objective, backend=COMPILE_BACKEND, dynamic=False)
