"""What a trained state-space model knows about the pendulum, measured against the truth.

- Probe (Karl et al. 2017, DVBF, Table 1): a linear regression (and a small MLP) from filtering
  posterior means E_q[z_t | x_{≤t}] to (sin θ, cos θ, ω), fitted on training sequences, scored by
  R² on test sequences.
- Open-loop prediction: filter `context` frames, roll the transition's mean forward; the valid
  prediction time is the share of the horizon before the per-frame pixel MSE first exceeds a
  threshold (0.01). Baselines: copy the last context frame; the dataset's mean frame.
- Physical constants: the regression θ̈ ≈ −(g/L) sin θ − b ω + k u of finite-difference angular
  accelerations on the probed states; a physics transition also carries its learned g/L and b.
- Evidence: the sequential ELBO and IWAE_k (k importance samples over whole sequences) on test
  sequences, in nats per frame, with standard errors and paired differences between models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vaelab.data.pendulum import SequenceSet
from vaelab.data.sequences import SequenceBatch, frames_to_model_space
from vaelab.evaluation.progress import Advance, progress_bar, scaled
from vaelab.models.ssm import StateSpaceModel
from vaelab.models.ssm_rollout import FILTER_LAG, filtering_means, predict
from vaelab.objectives.result import Estimate
from vaelab.objectives.sequential import sequential_elbo, sequential_log_marginal
from vaelab.objectives.smc import smc_log_marginal

PROBE_TARGETS = ("sin_theta", "cos_theta", "omega")
MSE_THRESHOLD = 0.01


def batch_of(data: SequenceSet, data_kind: str, index: slice | torch.Tensor | None = None,
             device: torch.device | str = "cpu") -> SequenceBatch:
    """Sequences of `data` (all or those at `index`) in the likelihood's units."""
    part = data if index is None else data.subset(index)
    return SequenceBatch(frames_to_model_space(part.frames.to(device), data_kind),
                         part.actions.to(device), part.mask.to(device))


def to_unit(model: StateSpaceModel, frames: torch.Tensor) -> torch.Tensor:
    """Model-space frames as intensities in [0, 1]."""
    return (frames / 255.0 if model.data_kind == "byte" else frames).clamp(0.0, 1.0)


@torch.no_grad()
def filtering_features(model: StateSpaceModel, data: SequenceSet, sequences: int | None = None,
                       batch_size: int = 100, advance: Advance | None = None,
                       lag: int | None = FILTER_LAG) -> torch.Tensor:
    """Filtering posterior means E_q[z_t | x_{≤t}] [N, T, d] for the first `sequences` (None = all);
    `advance(b)` after each batch of b sequences; `lag`: see filtering_means."""
    device = next(model.parameters()).device
    n = len(data) if sequences is None else min(sequences, len(data))
    parts = []
    for s in range(0, n, batch_size):
        part = slice(s, min(n, s + batch_size))
        parts.append(filtering_means(model, batch_of(data, model.data_kind, part, device), lag).cpu())
        if advance is not None:
            advance(part.stop - part.start)
    return torch.cat(parts)


def probe_targets(states: torch.Tensor) -> torch.Tensor:
    """(sin θ, cos θ, ω) [N, T, 3] from true states (θ, ω) [N, T, 2]."""
    theta, omega = states[..., 0], states[..., 1]
    return torch.stack([theta.sin(), theta.cos(), omega], -1)


@dataclass(frozen=True)
class ProbeResult:
    """R² per target on test frames, for the linear probe and (optionally) the MLP probe."""

    linear: dict[str, float]
    mlp: dict[str, float] | None
    train_frames: int
    test_frames: int
    guide: str
    test_prediction: np.ndarray  # linear probe's (sin θ, cos θ, ω) on test sequences [N, T, 3]
    filter_lag: int | None = FILTER_LAG  # how a smoothing guide filtered (None: exactly)

    def as_dict(self) -> dict[str, object]:
        record: dict[str, object] = {
            "linear_r2": self.linear, "mlp_r2": self.mlp, "train_frames": self.train_frames,
            "test_frames": self.test_frames, "features": "filtering posterior means", "guide": self.guide}
        if self.guide == "smooth":
            record["filter_lag"] = "exact" if self.filter_lag is None else self.filter_lag
        return record


def probe(
    model: StateSpaceModel,
    train: SequenceSet,
    test: SequenceSet,
    train_sequences: int = 500,
    test_sequences: int | None = None,
    mlp: bool = True,
    seed: int = 0,
    progress: bool | None = None,
    lag: int | None = FILTER_LAG,
) -> ProbeResult:
    """Fit probes from filtering posterior means to (sin θ, cos θ, ω) on training sequences and
    score them by R² on test sequences (every frame of every sequence). The bar counts the
    sequences filtered, then one step per fitted probe; `lag`: how a smoothing guide filters
    (see filtering_means)."""
    n_train = len(train) if train_sequences is None else min(train_sequences, len(train))
    n_test = len(test) if test_sequences is None else min(test_sequences, len(test))
    with progress_bar(n_train + n_test + 1 + int(mlp), "probe", progress) as advance:
        x_train = filtering_features(model, train, train_sequences, advance=advance, lag=lag)
        y_train = probe_targets(train.states[: x_train.shape[0]])
        x_test = filtering_features(model, test, test_sequences, advance=advance, lag=lag)
        y_test = probe_targets(test.states[: x_test.shape[0]])
        xa, ya = x_train.reshape(-1, x_train.shape[-1]).numpy(), y_train.reshape(-1, 3).numpy()
        xb, yb = x_test.reshape(-1, x_test.shape[-1]).numpy(), y_test.reshape(-1, 3).numpy()
        linear = LinearRegression().fit(xa, ya)
        predicted = linear.predict(xb)
        scores = r2_score(yb, predicted, multioutput="raw_values")
        advance(1)
        mlp_scores = None
        if mlp:
            regressor = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=200, early_stopping=True,
                                     random_state=seed)
            network = make_pipeline(StandardScaler(), regressor)
            network.fit(xa, ya)
            mlp_scores = r2_score(yb, network.predict(xb), multioutput="raw_values")
            advance(1)
    return ProbeResult(
        linear={name: float(v) for name, v in zip(PROBE_TARGETS, scores, strict=True)},
        mlp=None if mlp_scores is None else
        {name: float(v) for name, v in zip(PROBE_TARGETS, mlp_scores, strict=True)},
        train_frames=int(xa.shape[0]),
        test_frames=int(xb.shape[0]),
        guide={"forward": "filter", "backward": "smooth"}.get(model.summarizer.direction, "frame"),
        test_prediction=predicted.reshape(*x_test.shape[:2], 3),
        filter_lag=lag,
    )


def recover_constants(sin_theta: np.ndarray, omega: np.ndarray, actions: np.ndarray, dt: float,
                      burn_in: int = 0) -> dict[str, float]:
    """Least squares θ̈ ≈ −(g/L) sin θ − b ω + k u + c on central differences of ω.

    Inputs [N, T]; θ̈_t ≈ (ω_{t+1} − ω_{t−1}) / 2dt, regressed on sin θ_t, ω_t and the mean torque
    over the two intervals, (u_t + u_{t+1}) / 2, for t in [max(1, burn_in), T − 2].
    """
    start = max(1, burn_in)
    if omega.shape[1] - 1 - start < 1:
        raise ValueError(f"need at least {start + 2} frames per sequence to difference, got {omega.shape[1]}")
    accel = (omega[:, start + 1:] - omega[:, start - 1:-2]) / (2.0 * dt)
    s, w = sin_theta[:, start:-1], omega[:, start:-1]
    u = 0.5 * (actions[:, start:-1] + actions[:, start + 1:])
    design = np.stack([s.ravel(), w.ravel(), u.ravel(), np.ones(s.size)], 1)
    coef, *_ = np.linalg.lstsq(design, accel.ravel(), rcond=None)
    fitted = design @ coef
    r2 = 1.0 - np.sum((accel.ravel() - fitted) ** 2) / np.sum((accel.ravel() - accel.mean()) ** 2)
    return {"g_over_L": float(-coef[0]), "damping": float(-coef[1]), "input_gain": float(coef[2]),
            "r2": float(r2)}


def constants_from_probe(result: ProbeResult, test: SequenceSet, burn_in: int = 5) -> dict[str, float]:
    """`recover_constants` on the linear probe's (sin θ̂, ω̂), with θ̂ = atan2(sin, cos) so sin θ̂
    lies on the unit circle; the first `burn_in` filtering steps are skipped."""
    pred = result.test_prediction
    theta = np.arctan2(pred[..., 0], pred[..., 1])
    actions = test.actions[: pred.shape[0], :, 0].numpy()
    return recover_constants(np.sin(theta), pred[..., 2], actions, test.dt, burn_in)


def constants_from_truth(data: SequenceSet) -> dict[str, float]:
    """The same regression on the true states: the method's own error, for reference."""
    states = data.states.numpy().astype(np.float64)
    return recover_constants(np.sin(states[..., 0]), states[..., 1], data.actions[..., 0].numpy(), data.dt)


def valid_prediction_time(predicted: torch.Tensor, truth: torch.Tensor,
                          threshold: float = MSE_THRESHOLD) -> torch.Tensor:
    """Per sequence, the share of the horizon before the per-frame pixel MSE first exceeds
    `threshold`: frames [B, H, C, h, w] in [0, 1] -> [B] in [0, 1]."""
    mse = (predicted - truth).square().flatten(2).mean(-1)  # [B, H]
    bad = mse > threshold
    horizon = bad.shape[1]
    never = torch.full_like(bad[:, 0], horizon, dtype=torch.long)
    first = torch.where(bad.any(1), bad.float().argmax(1), never)
    return first.float() / horizon


@torch.no_grad()
def prediction_scores(
    model: StateSpaceModel,
    test: SequenceSet,
    mean_frame: torch.Tensor,
    context: int = 10,
    horizon: int | None = None,
    sequences: int | None = None,
    batch_size: int = 100,
    threshold: float = MSE_THRESHOLD,
    progress: bool | None = None,
) -> dict[str, dict[str, float]]:
    """Valid prediction time (mean ± standard error over sequences) and mean per-frame MSE of the
    model's open-loop prediction and of the copy-last-frame and mean-frame baselines (the bar
    counts sequences)."""
    horizon = test.length - context if horizon is None else horizon
    if not 1 <= horizon <= test.length - context:
        raise ValueError(f"horizon must be in [1, {test.length - context}] after {context} context frames, "
                         f"got {horizon}")
    device = next(model.parameters()).device
    n = len(test) if sequences is None else min(sequences, len(test))
    vpt: dict[str, list[torch.Tensor]] = {"model": [], "copy_last": [], "mean_frame": []}
    mse: dict[str, list[torch.Tensor]] = {k: [] for k in vpt}
    with progress_bar(n, "prediction", progress, "sequences") as advance:
        for start in range(0, n, batch_size):
            part = test.subset(slice(start, min(n, start + batch_size))).window(0, context + horizon)
            batch = batch_of(part, model.data_kind, device=device)
            predicted, _ = predict(model, batch, context)
            truth = part.frames[:, context:].float() / 255.0
            guesses = {
                "model": to_unit(model, predicted).cpu(),
                "copy_last": (part.frames[:, context - 1:context].float() / 255.0).expand_as(truth),
                "mean_frame": mean_frame.expand_as(truth),
            }
            for name, guess in guesses.items():
                vpt[name].append(valid_prediction_time(guess, truth, threshold))
                mse[name].append((guess - truth).square().flatten(2).mean(-1).mean(-1))
            advance(len(part))
    return {name: {"valid_prediction_time": Estimate.of(torch.cat(vpt[name])).mean,
                   "valid_prediction_time_stderr": Estimate.of(torch.cat(vpt[name])).stderr,
                   "mse": float(torch.cat(mse[name]).mean())}
            for name in vpt}


def mean_frame(data: SequenceSet) -> torch.Tensor:
    """The dataset's mean frame [1, H, W] in [0, 1] (the mean-frame baseline)."""
    return data.frames.float().mean((0, 1)) / 255.0


@torch.no_grad()
def sequence_evidence(
    model: StateSpaceModel,
    data: SequenceSet,
    k: int = 100,
    sequences: int | None = None,
    batch_size: int = 25,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, torch.Tensor]:
    """Per-sequence ELBO, IWAE_k and the particle filter's log Ẑ with k particles (nats, whole
    sequences) for the first `sequences` of `data`. All three bound log p(x) from below (the last
    two in expectation); the particle filter is the tightest on long sequences. The bar counts
    frames × samples (one draw for the ELBO, k for IWAE_k, k particles for the filter)."""
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    n = len(data) if sequences is None else min(sequences, len(data))
    elbos, iwaes, smcs = [], [], []
    total = n * data.length * (2 * k + 1)
    description = f"evidence: ELBO, IWAE_{k}, SMC_{k}"
    with progress_bar(total, description, progress, "frame-samples") as advance:
        for start in range(0, n, batch_size):
            batch = batch_of(data, model.data_kind, slice(start, min(n, start + batch_size)), device)
            elbos.append(sequential_elbo(model, batch).bound.cpu())
            advance(batch.size * batch.length)
            iwaes.append(sequential_log_marginal(
                model, batch, k, on_chunk=scaled(advance, batch.size * batch.length)).log_px.cpu())
            smcs.append(smc_log_marginal(model, batch, k, on_step=scaled(advance, batch.size * k)).cpu())
    frames = data.mask[:n].sum(-1).clamp_min(1).double()
    return {"elbo": torch.cat(elbos).double(), "iwae": torch.cat(iwaes).double(),
            "smc": torch.cat(smcs).double(), "frames": frames}


@dataclass(frozen=True)
class EvidenceRow:
    """One model's evidence on shared test sequences, nats per frame, and its paired difference
    to the best model (by the particle filter's estimate) with the standard error of that
    difference."""

    name: str
    elbo: Estimate
    iwae: Estimate
    smc: Estimate
    gap_to_best: Estimate

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "elbo_per_frame": self.elbo.as_dict(),
                "iwae_per_frame": self.iwae.as_dict(), "smc_per_frame": self.smc.as_dict(),
                "smc_gap_to_best": self.gap_to_best.as_dict()}


def evidence_table(evidence: Mapping[str, Mapping[str, torch.Tensor]]) -> list[EvidenceRow]:
    """Rows sorted best first from {name: sequence_evidence(...)} computed on the same sequences."""
    per_frame = {name: {key: e[key] / e["frames"] for key in ("elbo", "iwae", "smc")}
                 for name, e in evidence.items()}
    best = max(per_frame, key=lambda name: float(per_frame[name]["smc"].mean()))
    rows = [EvidenceRow(name, Estimate.of(v["elbo"]), Estimate.of(v["iwae"]), Estimate.of(v["smc"]),
                        Estimate.of(v["smc"] - per_frame[best]["smc"]))
            for name, v in per_frame.items()]
    return sorted(rows, key=lambda r: -r.smc.mean)


def format_evidence_table(rows: list[EvidenceRow], k: int, constants: Mapping[str, Mapping[str, float] | None]
                          | None = None) -> str:
    """The evidence table as text: best model first, paired gaps with standard errors."""
    constants = constants or {}
    header = (f"{'model':<28} {'ELBO/frame':>18} {f'IWAE_{k}/frame':>18} {f'SMC_{k}/frame':>18} "
              f"{'gap to best (paired)':>22} {'g/L':>7} {'b':>7}")
    lines = [header, "-" * len(header)]
    for row in rows:
        c = constants.get(row.name) or {}
        g = f"{c['g_over_L']:7.3f}" if "g_over_L" in c else f"{'-':>7}"
        b = f"{c['damping']:7.3f}" if "damping" in c else f"{'-':>7}"
        gap = "best" if row.gap_to_best.mean == 0 and math.isnan(row.gap_to_best.stderr) is False and \
            row.gap_to_best.stderr == 0 else f"{row.gap_to_best.mean:+.3f} ± {row.gap_to_best.stderr:.3f}"
        lines.append(f"{row.name:<28} {row.elbo.mean:>10.3f} ± {row.elbo.stderr:<5.3f} "
                     f"{row.iwae.mean:>10.3f} ± {row.iwae.stderr:<5.3f} {row.smc.mean:>10.3f} ± "
                     f"{row.smc.stderr:<5.3f} {gap:>22} {g} {b}")
    return "\n".join(lines)
