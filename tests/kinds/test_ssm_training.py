"""Warm starts of sequence runs: the shared observation model is copied, the transition is not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch._dynamo.utils import counters

from vaelab.kinds.ssm_experiment import SequenceExperiment
from vaelab.kinds.ssm_training import (
    build_sequence_model,
    fit_sequences,
    guide_of_warm_start,
    load_sequence_run,
    load_sequence_splits,
)

SMALL = {"encoder_hidden": [32], "rnn_hidden": 16, "combiner_hidden": 16, "transition_hidden": 16,
         "decoder_hidden": [32]}


def _config(tmp_path: Path, model: dict, **train: object) -> SequenceExperiment:
    return SequenceExperiment().with_overrides({
        "model": {**SMALL, **model},
        "data": {"data_dir": str(tmp_path / "data"),
                 "pendulum": {"train_sequences": 8, "train_length": 8, "valid_sequences": 4,
                              "valid_length": 8, "test_sequences": 4, "test_length": 8, "image_size": 16}},
        "train": {"epochs": 1, "batch_size": 8, "seed": 0, **train},
    })


def test_warm_start_copies_the_matching_weights_and_leaves_the_transition_fresh(tmp_path: Path) -> None:
    fit_sequences(_config(tmp_path, {"transition": "pendulum"}, seed=3), tmp_path / "source", progress=False,
                  log=lambda _: None)
    source = load_sequence_run(tmp_path / "source")[0].state_dict()
    hypotheses = {"pendulum": {"transition": "pendulum"}, "undamped": {"transition": "undamped"},
                  "generic": {"transition": "generic", "readout": "circle"},
                  "full": {"transition": "generic", "readout": "full"}}  # emitter input 3-d, not 2-d
    for name, model_config in hypotheses.items():
        config = _config(tmp_path, model_config, epochs=0, init_from=str(tmp_path / "source"),
                         init_constants="fixed")
        model, _ = fit_sequences(config, tmp_path / name, progress=False, log=lambda _: None)
        torch.manual_seed(0)  # what fit_sequences builds before the warm start
        built = guide_of_warm_start(config)  # the source's guide: smoothing
        assert built.model.guide == "smooth"
        fresh = build_sequence_model(built, load_sequence_splits(config.data)["train"]).state_dict()
        ours = model.state_dict()
        copied = [n for n in ours
                  if not n.startswith("dynamics.") and n in source and source[n].shape == ours[n].shape]
        kept = [n for n in ours if n not in copied]
        assert len(copied) >= 15 and any(n.startswith("dynamics.") for n in kept)
        assert any(n.startswith("emitter.") for n in kept) == (name == "full")
        for n in copied:
            assert torch.equal(ours[n], source[n]) and not torch.equal(ours[n], fresh[n]), n
        for n in kept:  # the transition's own, and whatever does not fit, stay as initialised
            assert torch.equal(ours[n], fresh[n]), n
        if name in ("pendulum", "undamped"):  # same names and shapes, yet not copied
            assert not torch.equal(ours["dynamics.raw_damping"], source["dynamics.raw_damping"])


def test_warm_start_with_the_transition_goes_on_under_a_tighter_noise_ceiling(tmp_path: Path) -> None:
    fit_sequences(_config(tmp_path, {"transition": "pendulum"}, seed=3), tmp_path / "source", progress=False,
                  log=lambda _: None)
    source = load_sequence_run(tmp_path / "source")[0]
    tight = (0.002, 0.002, 0.01)
    config = _config(tmp_path, {"transition": "pendulum", "noise_ceiling": tight}, epochs=0,
                     init_from=str(tmp_path / "source"), init_transition=True)
    model, _ = fit_sequences(config, tmp_path / "tight", progress=False, log=lambda _: None)
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    assert model.physical_constants() == source.physical_constants()
    # the same share of a ceiling ten times lower: the noise, not the rule, changed
    assert torch.allclose(model.dynamics.noise / torch.tensor(tight),
                          source.dynamics.noise / source.dynamics.max_noise)
    reloaded, saved, _ = load_sequence_run(tmp_path / "tight")
    assert saved.model.noise_ceiling == tight and torch.equal(reloaded.dynamics.noise, model.dynamics.noise)


def test_copying_a_transition_needs_a_run_to_copy_from() -> None:
    with pytest.raises(ValueError, match="train.init_transition"):
        SequenceExperiment().with_overrides({"train": {"init_transition": True}})


@pytest.mark.slow
def test_speed_switches_train_sequence_models_with_the_same_numbers(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from vaelab.training import fast_path

    monkeypatch.setattr(fast_path, "COMPILE_BACKEND", "aot_eager")  # the same kernels as eager: exact
    tiny = {"transition": "pendulum"}
    eager, _ = fit_sequences(_config(tmp_path, tiny, window=3), tmp_path / "eager", progress=False,
                             log=lambda _: None)
    torch._dynamo.reset()
    counters.clear()
    fast, _ = fit_sequences(_config(tmp_path, tiny, window=3, compile=True), tmp_path / "compiled",
                            progress=False, log=lambda _: None)
    assert counters["stats"]["unique_graphs"] >= 1  # the training step really went through dynamo
    for name, value in eager.state_dict().items():
        assert torch.allclose(fast.state_dict()[name], value, atol=1e-6), name
    lines: list[str] = []
    monkeypatch.setattr(fast_path, "cpu_has_bf16_units", lambda: False)  # the warning's case
    half, _ = fit_sequences(_config(tmp_path, tiny, window=3, precision="bf16"), tmp_path / "bf16",
                            progress=False, log=lines.append)
    assert any("warning: bf16 autocast" in line for line in lines)
    assert all(torch.isfinite(v).all() for v in half.state_dict().values())
    with pytest.raises(ValueError, match="train.precision"):
        _config(tmp_path, tiny, precision="fp8")


def test_a_bad_warm_start_writes_no_run_folder(tmp_path: Path) -> None:
    from vaelab.runs.checkpoint import CheckpointError

    config = _config(tmp_path, {"transition": "pendulum"}, init_from=str(tmp_path / "no-such-run"))
    with pytest.raises(CheckpointError, match="not a vaelab run folder"):
        fit_sequences(config, tmp_path / "run", progress=False, log=lambda _: None)
    assert not (tmp_path / "run").exists()


def test_a_fresh_physics_rule_starts_at_the_least_squares_fit_of_its_guides_states(tmp_path: Path) -> None:
    """The guide's first state estimates (a keypoint angle, finite-difference velocities) already
    carry the constants; a fresh run starts there instead of at g/L 5, b 0.5, gain 0."""
    from vaelab.kinds.ssm_constants import least_squares_constants

    config = SequenceExperiment().with_overrides({
        "model": SMALL, "data": {"data_dir": str(tmp_path / "data"), "pendulum": {
            "gravity": 20.0, "damping": 0.4, "train_sequences": 60, "valid_sequences": 2,
            "test_sequences": 2}}})
    splits = load_sequence_splits(config.data)
    torch.manual_seed(0)
    model = build_sequence_model(config, splits["train"])
    fitted = least_squares_constants(model, splits["train"])
    assert fitted is not None and model.physical_constants() is not None
    learned = model.physical_constants()
    for name, true in (("g_over_L", 20.0), ("damping", 0.4), ("input_gain", 1.0)):
        assert learned[name] == pytest.approx(fitted[name], rel=1e-5)
        assert learned[name] == pytest.approx(true, rel=0.15), (name, learned)
    undriven = build_sequence_model(config.with_overrides({"model": {"driven": False}}), splits["train"])
    assert least_squares_constants(undriven, splits["train"])["input_gain"] == 0.0
    generic = build_sequence_model(config.with_overrides({"model": {"transition": "generic"}}),
                                   splits["train"])
    assert least_squares_constants(generic, splits["train"]) is None  # no constants to start


def test_runs_saved_before_the_new_defaults_keep_their_own(tmp_path: Path) -> None:
    """The least-squares start is new runs' default; a run folder written before it existed loads
    (and resumes) with the fixed start."""
    import json

    fit_sequences(_config(tmp_path, {"transition": "pendulum"}, epochs=0), tmp_path / "run", progress=False,
                  log=lambda _: None)
    new = SequenceExperiment.load(tmp_path / "run" / "config.json")
    assert new.train.init_constants == "least-squares"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    del saved["train"]["init_constants"]
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    assert SequenceExperiment.load(tmp_path / "run" / "config.json").train.init_constants == "fixed"


def test_a_warm_start_with_the_automatic_guide_reads_the_frames_like_its_source(tmp_path: Path) -> None:
    fit_sequences(_config(tmp_path, {"transition": "pendulum", "guide": "filter"}, epochs=0),
                  tmp_path / "filtering", progress=False, log=lambda _: None)
    fit_sequences(_config(tmp_path, {"transition": "none", "combiner": "frame", "latent_dim": 2}, epochs=0),
                  tmp_path / "framewise", progress=False, log=lambda _: None)
    cases = [({"transition": "undamped"}, "filtering", "filter"),  # the source's, not smooth
             ({"transition": "undamped"}, "framewise", "smooth"),  # nothing to share: its own
             ({"transition": "none", "combiner": "frame", "latent_dim": 2}, "filtering", "frame")]
    for model, source, guide in cases:
        config = _config(tmp_path, model, epochs=0, init_from=str(tmp_path / source), init_constants="fixed")
        assert guide_of_warm_start(config).model.resolved_guide() == guide
        run = tmp_path / f"{source}-{model['transition']}"
        fit_sequences(config, run, progress=False, log=lambda _: None)
        assert SequenceExperiment.load(run / "config.json").model.guide == guide  # saved resolved


def test_weight_decay_reaches_the_networks_but_never_the_physical_constants(tmp_path: Path) -> None:
    from vaelab.kinds.ssm_training import make_sequence_optimizer

    config = _config(tmp_path, {"transition": "pendulum"}, weight_decay=0.01)
    model = build_sequence_model(config, load_sequence_splits(config.data)["train"])
    groups = make_sequence_optimizer(model, config.train).param_groups
    dynamics = {id(p) for p in model.dynamics.parameters()}
    assert dynamics and all(g["weight_decay"] == (0.0 if {id(p) for p in g["params"]} <= dynamics else 0.01)
                            for g in groups)
    assert sum(g["weight_decay"] == 0.01 for g in groups) == 2
