"""`vaelab.evaluate`: held-out evidence for any model and any test data, from Python.

Frame models get the ELBO and the importance-sampled log p(x) with k samples (mean ± standard
error, the effective sample size of the weights, the IWAE−ELBO gap; bits/dim for 8-bit data),
and optionally annealed importance sampling on a few examples. State-space models get the
sequential ELBO, IWAE_k and the particle filter's estimate, in nats per frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vaelab.data.imageset import ImageSet
from vaelab.data.pendulum import SequenceSet
from vaelab.data.representation import stack_examples, to_model_space, user_examples_in_model_space
from vaelab.data.streamed import StreamedImages
from vaelab.evaluation.metrics import ais_metrics, held_out_metrics
from vaelab.objectives.result import Estimate

#: seed of the fixed binarization of grey test images (so two evaluations see the same pixels)
TEST_BINARIZATION_SEED = 1241


def held_out_examples(model: torch.nn.Module,
                      data: torch.Tensor | np.ndarray | Dataset | ImageSet | StreamedImages,
                examples: int | None, device: torch.device) -> torch.Tensor:
    """The first `examples` test examples (None = all) in the model's units on `device`:
    grey uint8 pixels are converted (and, for a Bernoulli likelihood, binarized with a fixed
    seed), 0/1 uint8 and float values used as they are; values the likelihood cannot score
    (NaN, grey floats for a Bernoulli one) are refused."""
    binary = False
    if isinstance(data, ImageSet):
        tensor, binary = data.images, data.binary
    elif isinstance(data, StreamedImages):  # read only the images evaluated
        tensor, binary = data.head(examples or 0), data.binary
    elif isinstance(data, np.ndarray):
        tensor = torch.from_numpy(data)
    elif isinstance(data, torch.Tensor):
        tensor = data
    elif isinstance(data, Dataset):
        items = [x for x in DataLoader(data, batch_size=256, collate_fn=stack_examples)]
        tensor = torch.cat(items)
    else:
        raise TypeError(f"cannot evaluate on {type(data).__name__}; pass a tensor, a numpy array, a "
                        "torch.utils.data.Dataset or an ImageSet (a SequenceSet for sequence models)")
    if examples is not None and examples > 0:
        tensor = tensor[:examples]
    generator = torch.Generator(device=device).manual_seed(TEST_BINARIZATION_SEED)
    if isinstance(data, (ImageSet, StreamedImages)):
        return to_model_space(tensor.to(device), binary, model.data_kind, generator)
    return user_examples_in_model_space(tensor.to(device), getattr(model, "data_kind", "unit"),
                                        "the test data", generator)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    test: torch.Tensor | np.ndarray | Dataset | ImageSet | SequenceSet,
    *,
    k: int = 1000,
    examples: int | None = None,
    batch_size: int = 100,
    ais_examples: int = 0,
    ais_chains: int = 16,
    ais_steps: int = 500,
    seed: int = 0,
    run_dir: Path | str | None = None,
) -> dict[str, Any]:
    """Estimates of log p(x) on `test` (the first `examples` of it; None = all), in nats.

    Returns for a frame model {"examples", "elbo", "log_px_is", "iwae_minus_elbo", "is_samples",
    "ess_mean", "seconds", "pareto_k"} (each estimate {"mean", "stderr", "n"}; "pareto_k" the
    Pareto k̂ of the importance weights: each example's, and the share above 0.7, where an
    estimate should not be trusted — see `vaelab.evaluation.trust`), plus "ais" when
    `ais_examples` > 0; for a state-space model {"sequences", "k", "elbo_per_frame",
    "iwae_per_frame", "smc_per_frame"}. With the `run_dir` of a `vaelab.fit` run the evaluation
    is also kept there, as the command line keeps its own (RUN/evaluations/, metrics.json; an
    earlier one is never overwritten), and the result gains its "evaluation" id.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if run_dir is not None and not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run_dir {run_dir} is not a folder; pass the run_dir that vaelab.fit "
                                "trained into")
    result = _evaluate(model, test, k, examples, batch_size, ais_examples, ais_chains, ais_steps, seed)
    if run_dir is not None:
        settings = {"k": k, "examples": result.get("examples", result.get("sequences")), "seed": seed,
                    "ais_examples": ais_examples, "by": "vaelab.evaluate"}
        result = {**result, "evaluation": keep_evaluation(model, run_dir, settings, result)}
    return result


def keep_evaluation(model: torch.nn.Module, run_dir: Path | str, settings: dict[str, Any],
                    result: dict[str, Any]) -> str:
    """Save `result` (what `evaluate` returned for `model`) among the run's evaluations; its id."""
    from vaelab.runs.evaluations import FRAME, SEQUENCE, RunEvaluations, finish, weights_fingerprint

    store = RunEvaluations(run_dir, SEQUENCE if "sequences" in result else FRAME)
    evaluation = store.begin(settings, weights_fingerprint(model), {})
    return finish(store, evaluation, {"test": result}, [])["evaluation"]


def _evaluate(model: torch.nn.Module, test: Any, k: int, examples: int | None, batch_size: int,
              ais_examples: int, ais_chains: int, ais_steps: int, seed: int) -> dict[str, Any]:
    """The estimates `evaluate` returns, in the model's eval mode (its mode restored after)."""
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    try:
        if isinstance(test, SequenceSet):
            return _sequence_evidence(model, test, k, examples, seed)
        x = held_out_examples(model, test, examples, device)
        result = held_out_metrics(model, x, k, batch_size=batch_size)
        if ais_examples > 0:
            result["ais"] = ais_metrics(model, x[:ais_examples], ais_chains, ais_steps, k)
        return result
    finally:
        model.train(was_training)


def _sequence_evidence(model: torch.nn.Module, test: SequenceSet, k: int, examples: int | None,
                       seed: int) -> dict[str, Any]:
    from vaelab.evaluation.sequence_metrics import sequence_evidence

    n = None if not examples else examples
    evidence = sequence_evidence(model, test, k, n, seed=seed)  # type: ignore[arg-type]
    frames = evidence["frames"]
    return {"sequences": int(frames.numel()), "k": k,
            **{f"{name}_per_frame": Estimate.of(evidence[name] / frames).as_dict()
               for name in ("elbo", "iwae", "smc")}}


def gaps(
    model: torch.nn.Module,
    test: torch.Tensor | np.ndarray | Dataset | ImageSet,
    *,
    examples: int | None = 100,
    k: int = 5000,
    steps: int = 500,
    lr: float = 1e-2,
    samples: int = 16,
    eval_samples: int = 1000,
    batch_size: int = 100,
    flow: str | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, Any]:
    """What amortized inference costs on the first `examples` of `test` (None = all), in nats:
    the inference gap log p(x) − L[q] split into the approximation gap log p(x) − L[q*] (the guide's
    family) and the amortization gap L[q*] − L[q] (its encoder), where q* is the family's best
    member for each example, found by `steps` Adam steps on its parameters from the encoder's
    (Cremer, Li & Duvenaud 2018). log p(x) is importance-sampled with `k` samples. Returns
    {"log_px", "elbo_amortized", "elbo_optimized", "approximation_gap", "amortization_gap",
    "inference_gap"} (each {"mean", "stderr", "n"}), "converged" (share of examples whose
    optimisation settled), "examples", "settings" and "seconds". `flow` ("planar:K", default None:
    not fitted) also fits that flow per example on the guide's family, from the encoder's output,
    and adds "elbo_flow" (L[q*_flow]), "flow_recovers" (L[q*_flow] − L[q*]: how much of the
    approximation gap a richer family recovers), "flow_approximation_gap" (log p(x) − L[q*_flow])
    and "flow_converged". `vaelab evaluate RUN --gaps N [--gap-flow planar:K]` does the same for
    a run folder and keeps the result with the run's evaluations."""
    from vaelab.evaluation.gaps import inference_gaps

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    try:
        x = held_out_examples(model, test, examples, next(model.parameters()).device)
        result = inference_gaps(model, x, k, steps, lr, samples, eval_samples, batch_size,
                                flow=flow, progress=progress)
    finally:
        model.train(was_training)
    return result


__all__ = ["evaluate", "gaps", "held_out_examples", "keep_evaluation"]
