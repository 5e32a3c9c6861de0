"""Every evaluation of a run, kept: RUN/evaluations/<id>.json, and metrics.json as their merged view.

An evaluation never destroys an earlier one:

- Each evaluation is saved as RUN/evaluations/<kind>-k<k>-n<examples>-<UTC time>.json holding its
  settings (k, examples, seed, estimators, ...), the time, the vaelab version, a fingerprint of
  the weights it evaluated, its results, and which files it drew, kept or moved. Listing the
  folder is the index; metrics.json repeats it under "evaluations" → "all".
- RUN/metrics.json is rebuilt after each evaluation from the evaluations of the current weights:
  the results of the strongest one (largest k, then most examples; the newest on a tie) plus any
  key it lacks (an estimator comparison, AIS) from the newest evaluation that has it, and under
  "evaluations" the "latest" and "strongest" evaluation (id, k, examples, time, test figures),
  "sources" (which evaluation each key came from) and "all". Readers of the old flat shape
  (metrics["test"], ["estimators"], ["ais"], ...) keep working.
- Pictures and the estimator files at the top of the run folder show the current model. They are
  drawn once per model: an evaluation keeps them when they were drawn from the same weights (and,
  for the training curve, the same epochs); when the model has changed since, the old files are
  moved to RUN/evaluations/<id of the evaluation that drew them>/ and drawn again. A new
  estimator comparison moves the previous estimators.* the same way. Nothing is deleted.
- A run folder from before evaluations were kept (a metrics.json, no evaluations/) is imported as
  one evaluation first, dated by the file; it counts as of the current weights when metrics.json
  is newer than the weights and the training log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vaelab import __version__
from vaelab.atomic_files import atomic_write_text
from vaelab.runs.checkpoint import CheckpointError, saved_model_state
from vaelab.runs.files import BEST_WEIGHTS, CHECKPOINT
from vaelab.runs.files import METRICS as TRAINING_LOG

METRICS_JSON = "metrics.json"
"""A run's merged view of its evaluations, headed by the strongest (`test`)."""
EVALUATIONS_DIR = "evaluations"
#: the kinds of evaluator, one per kind of run
FRAME, SEQUENCE, SEMISUPERVISED = "frame", "sequence", "semisupervised"
#: the stamp of a file whose model is not known (drawn before evaluations were kept, by an older model)
UNKNOWN = "unknown"
#: where files no evaluation drew (and an unreadable metrics.json) go when they must make room
UNOWNED_DIR = "unowned"
FORMAT = 1


def utc_now() -> dt.datetime:
    """Now, in UTC (evaluation times are UTC so runs compare across machines)."""
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    """ISO 8601 with microseconds and a Z: sorts as text in time order."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of every tensor in the model's state dict: equal exactly for equal weights."""
    return _fingerprint(model.state_dict())


def _fingerprint(state: Mapping[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        flat = tensor.detach().reshape(-1).contiguous().cpu()
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def epochs_trained(run_dir: Path) -> int:
    """Lines of the training log (metrics.jsonl): what the training curve shows."""
    path = Path(run_dir) / TRAINING_LOG
    return len(path.read_text().splitlines()) if path.is_file() else 0


@dataclass
class Evaluation:
    """One evaluation of a run, as saved in RUN/evaluations/<id>.json."""

    id: str
    kind: str
    time: str
    settings: dict[str, Any]
    weights: str
    results: dict[str, Any] = field(default_factory=dict)
    drawn: dict[str, str] = field(default_factory=dict)  # file name -> stamp of the model drawn
    kept: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # file name -> where the old one went
    version: str = __version__
    imported_from: str | None = None

    @property
    def k(self) -> int:
        return int(self.settings.get("k") or 0)

    @property
    def examples(self) -> int:
        return int(self.settings.get("examples") or 0)

    @property
    def strength(self) -> tuple[int, int]:
        """Larger is stronger: more samples per example, then more examples."""
        return self.k, self.examples

    @property
    def file(self) -> str:
        """The record's path relative to the run folder."""
        return f"{EVALUATIONS_DIR}/{self.id}.json"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT, "id": self.id, "kind": self.kind, "time": self.time,
            "vaelab_version": self.version, "weights": self.weights, "settings": self.settings,
            "results": self.results,
            "files": {"drawn": self.drawn, "kept": self.kept, "moved": self.moved},
        }
        if self.imported_from is not None:
            out["imported_from"] = self.imported_from
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        files = data.get("files") or {}
        return cls(id=str(data["id"]), kind=str(data["kind"]), time=str(data["time"]),
                   settings=dict(data.get("settings") or {}), weights=str(data.get("weights", UNKNOWN)),
                   results=dict(data.get("results") or {}), drawn=dict(files.get("drawn") or {}),
                   kept=list(files.get("kept") or []), moved=dict(files.get("moved") or {}),
                   version=str(data.get("vaelab_version", "?")),
                   imported_from=data.get("imported_from"))

    def summary(self, current: bool = True) -> dict[str, Any]:
        """What metrics.json says about this evaluation: where it is, its settings, its figures."""
        out: dict[str, Any] = {"id": self.id, "file": self.file, "time": self.time, "k": self.k,
                               "examples": self.examples,
                               "test": _without_per_example(self.results.get("test"))}
        if "seed" in self.settings:  # (an imported metrics.json never said)
            out["seed"] = self.settings["seed"]
        if not current:
            out["current_weights"] = False
        return out


def _legacy_settings(kind: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """k and examples of a metrics.json written before evaluations were kept."""
    test = metrics.get("test") or {}
    if kind == SEQUENCE:
        return {"k": test.get("iwae_samples", 0), "examples": test.get("sequences", 0)}
    return {"k": test.get("is_samples", 0), "examples": test.get("examples", 0)}


class RunEvaluations:
    """The evaluations kept in one run folder, and the files at its top that they drew."""

    def __init__(self, run_dir: Path | str, kind: str) -> None:
        self.run_dir = Path(run_dir)
        self.kind = kind
        self.folder = self.run_dir / EVALUATIONS_DIR

    def load(self) -> list[Evaluation]:
        """Every saved evaluation, oldest first (unreadable files are skipped, never touched)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.json"):
            try:
                found.append(Evaluation.from_dict(json.loads(path.read_text())))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                continue
        return sorted(found, key=lambda e: (e.time, e.id))

    # -- starting an evaluation ------------------------------------------------------------

    def begin(self, settings: dict[str, Any], weights: str, stamps: Mapping[str, str]) -> Evaluation:
        """A new evaluation of the model with `weights`, not yet saved. First imports a
        metrics.json that no saved evaluation accounts for (`stamps`: the current model's stamp
        of each file this kind of evaluation draws, for the files such a metrics.json came with).
        An unreadable metrics.json is moved aside, and the new evaluation reports the move."""
        moved = self._import_unrecorded(weights, stamps)
        now = utc_now()
        base = f"{self.kind}-k{int(settings.get('k') or 0)}-n{int(settings.get('examples') or 0)}-" \
               f"{now.strftime('%Y%m%dT%H%M%SZ')}"
        return Evaluation(id=self._free_id(base), kind=self.kind, time=_iso(now), settings=settings,
                          weights=weights, moved=moved)

    def _free_id(self, base: str) -> str:
        name, n = base, 1
        while (self.folder / f"{name}.json").exists() or (self.folder / name).exists():
            n += 1
            name = f"{base}-{n}"
        return name

    def _import_unrecorded(self, weights: str, stamps: Mapping[str, str]) -> dict[str, str]:
        """Keep a metrics.json no evaluation accounts for as an imported evaluation; an unreadable
        one is moved aside. Returns what was moved (name -> path in the run folder)."""
        path = self.run_dir / METRICS_JSON
        if not path.is_file():
            return {}
        try:
            metrics = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            metrics = None
        if not isinstance(metrics, dict):  # unreadable: keep its bytes beside the evaluations
            self.folder.mkdir(exist_ok=True)
            target = self._free_path(self.folder / UNOWNED_DIR / METRICS_JSON)
            os.replace(path, target)
            return {METRICS_JSON: str(target.relative_to(self.run_dir))}
        records = self.load()
        latest = ((metrics.get("evaluations") or {}).get("latest") or {}).get("id")
        if latest is not None and any(r.id == latest for r in records):
            return {}  # our own merged view
        results = {k: v for k, v in metrics.items() if k != "evaluations"}
        written = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        current = self._metrics_newer_than_model(path)
        settings = _legacy_settings(self.kind, results)
        base = f"{self.kind}-k{int(settings['k'] or 0)}-n{int(settings['examples'] or 0)}-" \
               f"{written.strftime('%Y%m%dT%H%M%SZ')}"
        drawn = {name: (stamp if current else UNKNOWN) for name, stamp in stamps.items()
                 if (self.run_dir / name).is_file() and self._owner(records, name) is None}
        imported = Evaluation(id=self._free_id(base), kind=self.kind, time=_iso(written),
                              settings=settings, weights=weights if current else UNKNOWN,
                              results=results, drawn=drawn, version="before evaluations were kept",
                              imported_from=METRICS_JSON)
        self._write(imported)
        return {}

    def _metrics_newer_than_model(self, metrics: Path) -> bool:
        """Whether metrics.json was written after the weights and the training log it describes."""
        return _written_after_the_weights(self.run_dir)

    # -- the files at the top of the run folder --------------------------------------------

    @staticmethod
    def _owner(records: Iterable[Evaluation], name: str) -> Evaluation | None:
        """The newest evaluation that drew the file `name`."""
        owner = None
        for record in records:
            if name in record.drawn:
                owner = record
        return owner

    def _free_path(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate, n = path, 1
        while candidate.exists():
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        return candidate

    def _move_away(self, evaluation: Evaluation, name: str, owner: Evaluation | None) -> None:
        target = self._free_path(self.folder / (owner.id if owner else UNOWNED_DIR) / name)
        os.replace(self.run_dir / name, target)
        evaluation.moved[name] = str(target.relative_to(self.run_dir))

    def keep_or_move(self, evaluation: Evaluation, stamps: Mapping[str, str]) -> list[str]:
        """For each file name -> stamp of the current model: keep the file when it was drawn from
        the same model, else move it to the folder of the evaluation that drew it. Returns the
        names now missing (to draw, if the caller draws them)."""
        records = self.load()
        missing = []
        for name, stamp in stamps.items():
            if not (self.run_dir / name).is_file():
                missing.append(name)
                continue
            owner = self._owner(records, name)
            if owner is not None and owner.drawn[name] == stamp:
                evaluation.kept.append(name)
            else:
                self._move_away(evaluation, name, owner)
                missing.append(name)
        return missing

    def make_room(self, evaluation: Evaluation, names: Iterable[str]) -> None:
        """Move the existing files `names` to the folder of the evaluation that drew them, so a
        new version can take their place."""
        records = self.load()
        for name in names:
            if (self.run_dir / name).is_file():
                self._move_away(evaluation, name, self._owner(records, name))

    # -- saving ------------------------------------------------------------------------------

    def _write(self, evaluation: Evaluation) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / evaluation.file
        atomic_write_text(path, json.dumps(evaluation.to_dict(), indent=2) + "\n")
        return path

    def save(self, evaluation: Evaluation) -> dict[str, Any]:
        """Write the evaluation's record and the merged metrics.json; returns the merged view."""
        self._write(evaluation)
        merged = merged_metrics(self.load(), evaluation.weights)
        atomic_write_text(self.run_dir / METRICS_JSON, json.dumps(merged, indent=2) + "\n")
        return merged


def saved_weights_fingerprint(run_dir: Path | str) -> str | None:
    """`weights_fingerprint` of the weights an evaluation of the run loads (its best weights, else
    its last checkpoint's), read from the file; None when it has none that can be read."""
    try:
        tensors, _ = saved_model_state(Path(run_dir))
    except CheckpointError:
        return None
    return _fingerprint(tensors)


def _written_after_the_weights(run_dir: Path) -> bool:
    """Whether metrics.json was written after the weights and the training log it describes."""
    written = (run_dir / METRICS_JSON).stat().st_mtime
    sources = [run_dir / name for name in (BEST_WEIGHTS, CHECKPOINT, TRAINING_LOG)]
    return all(written >= p.stat().st_mtime for p in sources if p.is_file())


def metrics_describe_the_weights(run_dir: Path | str) -> bool:
    """Whether RUN/metrics.json's figures are of the weights the run now holds (training further
    without evaluating makes them stale): its strongest evaluation's weights fingerprint against
    the run's weights file, or — for a metrics.json from before fingerprints — its time against
    the weights' and the training log's."""
    run_dir = Path(run_dir)
    metrics = run_dir / METRICS_JSON
    if not metrics.is_file():
        return False
    try:
        strongest = (json.loads(metrics.read_text()).get("evaluations") or {}).get("strongest") or {}
        record = json.loads((run_dir / strongest["file"]).read_text())
        evaluated = record.get("weights", UNKNOWN)
    except (json.JSONDecodeError, OSError, KeyError, TypeError, AttributeError):
        evaluated = UNKNOWN
    if evaluated != UNKNOWN:
        return evaluated == saved_weights_fingerprint(run_dir)
    return _written_after_the_weights(run_dir)


def merged_metrics(records: list[Evaluation], weights: str) -> dict[str, Any]:
    """metrics.json from the saved evaluations (oldest first) of the model with `weights`: the
    strongest evaluation's results, keys it lacks from the newest evaluation that has them, and
    the "evaluations" pointers."""
    if not records:
        return {}
    current = [r for r in records if r.weights == weights] or records[-1:]
    latest = current[-1]
    strongest = max(reversed(current), key=lambda r: r.strength)  # ties: the newest
    merged = dict(strongest.results)
    sources = {key: strongest.id for key in strongest.results}
    for record in reversed(current):
        for key, value in record.results.items():
            if key not in merged:
                merged[key] = value
                sources[key] = record.id
    ids = {r.id for r in current}
    merged["evaluations"] = {
        "latest": latest.summary(),
        "strongest": strongest.summary(),
        "sources": sources,
        "all": [{**r.summary(r.id in ids), "settings": r.settings} for r in records],
    }
    return merged


def _without_per_example(test: Any) -> Any:
    """The test figures less each example's Pareto k̂ (kept in the evaluation's own file, not
    repeated for every evaluation listed in metrics.json)."""
    if not isinstance(test, dict) or not isinstance(test.get("pareto_k"), dict):
        return test
    pareto = {key: value for key, value in test["pareto_k"].items() if key != "per_example"}
    return {**test, "pareto_k": pareto}


def output_lines(result: Mapping[str, Any]) -> list[str]:
    """What an evaluation wrote, kept and moved, as lines for the command line."""
    lines = ["wrote:", *(f"  {p}" for p in result.get("files", []))]
    strongest = result.get("strongest") or {}
    if strongest and strongest.get("id") != result.get("evaluation"):
        lines.append(f"metrics.json keeps the stronger evaluation {strongest['id']} (k = {strongest['k']}, "
                     f"{strongest['examples']} examples) as its headline; this one is under "
                     "evaluations.latest")
    if result.get("kept"):
        lines += ["kept (drawn earlier from the same model):", *(f"  {p}" for p in result["kept"])]
    if result.get("moved"):
        lines += ["moved (drawn from an earlier model, or replaced by a new comparison):",
                  *(f"  {old} -> {new}" for old, new in result["moved"].items())]
    return lines


def finish(store: RunEvaluations, evaluation: Evaluation, results: dict[str, Any],
           drawn: list[Path]) -> dict[str, Any]:
    """Save `evaluation` with `results`; return the results with "evaluation" (its id),
    "strongest" (id, k, examples of metrics.json's headline), "files" (what was written), "kept"
    and "moved" (old path -> new path) for the caller to report."""
    evaluation.results = results
    merged = store.save(evaluation)
    run_dir = store.run_dir
    strongest = merged["evaluations"]["strongest"]
    return {**results, "evaluation": evaluation.id,
            "strongest": {key: strongest[key] for key in ("id", "k", "examples")},
            "files": [str(p) for p in [run_dir / evaluation.file, run_dir / METRICS_JSON, *drawn]],
            "kept": [str(run_dir / name) for name in evaluation.kept],
            "moved": {str(run_dir / name): str(run_dir / target)
                      for name, target in evaluation.moved.items()}}


__all__ = [
    "EVALUATIONS_DIR",
    "FRAME",
    "METRICS_JSON",
    "SEMISUPERVISED",
    "SEQUENCE",
    "Evaluation",
    "RunEvaluations",
    "epochs_trained",
    "finish",
    "merged_metrics",
    "metrics_describe_the_weights",
    "saved_weights_fingerprint",
    "output_lines",
    "utc_now",
    "weights_fingerprint",
]
