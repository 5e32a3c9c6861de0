"""Configs validate on construction and name the bad field; files round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaelab.training import ConfigError, ExperimentConfig, TrainConfig


def test_defaults_round_trip_through_json(tmp_path: Path) -> None:
    config = ExperimentConfig().with_overrides({"train": {"epochs": 3}, "model": {"hidden": [8, 8]}})
    config.save(tmp_path / "c.json")
    assert ExperimentConfig.load(tmp_path / "c.json") == config
    assert config.model.hidden == (8, 8)


def test_toml_config_file(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[model]\nlatent_dim = 8\n[train]\nobjective = "iwae"\n'
                                     'samples = 5\n')
    config = ExperimentConfig.load(tmp_path / "c.toml")
    assert config.model.latent_dim == 8 and config.train.samples == 5


@pytest.mark.parametrize(
    ("raw", "message"),
    [({"train": {"epoch": 3}}, r"unknown key\(s\) \['epoch'\]"),
     ({"training": {}}, r"unknown section\(s\) \['training'\]"),
     ({"train": {"learning_rate": -1}}, "train.learning_rate"),
     ({"train": {"objective": "vi"}}, "train.objective"),
     ({"data": {"binarization": "otsu"}}, "data.binarization"),
     ({"model": {"latent_dim": 0}}, "model.latent_dim")],
)
def test_bad_values_name_the_field(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.from_dict(raw)


def test_unparseable_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[model\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        ExperimentConfig.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        ExperimentConfig.load(tmp_path / "none.json")


def test_device_must_be_known() -> None:
    with pytest.raises(ConfigError, match="train.device"):
        TrainConfig(device="tpu")


def test_shipped_config_files_load() -> None:
    from vaelab.kinds.semisupervised_experiment import SemiSupervisedExperiment, load_experiment

    shipped = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))
    assert shipped
    for path in shipped:  # a semi-supervised kind's file loads as one, with its own section
        loaded = load_experiment(path)
        assert loaded.model.latent_dim >= 1
        assert isinstance(loaded, SemiSupervisedExperiment) == path.name.startswith(("adgm", "sdgm"))


def test_cosine_schedule_is_paced_by_epochs_or_time_whichever_is_further() -> None:
    from vaelab.training.config import learning_rate_at

    def lr(epoch: int, seconds: float = 0.0, budget: float = 0.0) -> float:
        return learning_rate_at("cosine", 1e-3, epoch, seconds, epochs=100, budget_minutes=budget,
                                final_fraction=0.01)

    assert lr(0) == pytest.approx(1e-3)
    assert lr(50) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert lr(100) == pytest.approx(1e-5) and lr(150) == pytest.approx(1e-5)
    assert lr(25) > lr(50) > lr(75) > lr(100)
    # with a 10-minute budget, time is further along than epochs: 5 min spent = halfway
    assert lr(1, seconds=300.0, budget=10.0) == pytest.approx(lr(50))
    assert lr(1, seconds=600.0, budget=10.0) == pytest.approx(1e-5)
    # epochs further along than time: the epochs pace it
    assert lr(50, seconds=1.0, budget=10.0) == pytest.approx(lr(50))
    # the other schedules ignore time
    assert learning_rate_at("constant", 1e-3, 7, 1e9, 100, 1.0) == 1e-3
    assert learning_rate_at("burda", 1e-3, 1, 1e9, 100, 1.0) == pytest.approx(1e-3 * 10 ** (-1 / 7))
    assert TrainConfig(lr_schedule="cosine", final_lr_fraction=0.1).final_lr_fraction == 0.1
    with pytest.raises(ConfigError, match="train.final_lr_fraction"):
        TrainConfig(final_lr_fraction=0.0)


def test_step_schedule_cuts_the_rate_once_halfway_through_epochs_or_time() -> None:
    from vaelab.training.config import learning_rate_at

    def lr(epoch: int, seconds: float = 0.0, budget: float = 0.0) -> float:
        return learning_rate_at("step", 1e-3, epoch, seconds, epochs=100, budget_minutes=budget,
                                final_fraction=0.3)

    assert lr(0) == lr(49) == pytest.approx(1e-3)
    assert lr(50) == lr(99) == lr(500) == pytest.approx(3e-4)
    # a 10-minute budget: 5 minutes spent is halfway, whatever the epoch
    assert lr(1, seconds=299.0, budget=10.0) == pytest.approx(1e-3)
    assert lr(1, seconds=300.0, budget=10.0) == pytest.approx(3e-4)
    assert TrainConfig(lr_schedule="step").lr_schedule == "step"


def test_schedules_stay_sensible_when_the_budget_alone_sets_the_length() -> None:
    """A run given a time budget and no epochs has MAX_EPOCHS: cosine decay is then paced by the
    budget alone, and burda's stages count epochs from the start as before."""
    from vaelab.kinds.ssm_experiment import SequenceTrainConfig
    from vaelab.kinds.ssm_training import learning_rate_at as sequence_rate
    from vaelab.training.config import learning_rate_at
    from vaelab.training.config_files import MAX_EPOCHS

    def lr(epoch: int, seconds: float) -> float:
        return learning_rate_at("cosine", 1e-3, epoch, seconds, MAX_EPOCHS, 10.0, 0.01)

    assert lr(0, 0.0) == pytest.approx(1e-3)
    assert lr(40, 300.0) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))  # half the budget: halfway
    assert lr(90, 600.0) == pytest.approx(1e-5)
    assert learning_rate_at("burda", 1e-3, 1, 0.0, MAX_EPOCHS, 10.0) == pytest.approx(
        learning_rate_at("burda", 1e-3, 1, 0.0, 3280, 0.0))
    sequence = SequenceTrainConfig(epochs=MAX_EPOCHS, time_budget_minutes=10.0, final_lr_fraction=0.05)
    assert sequence_rate(sequence, 40, 300.0) == pytest.approx(2e-3 * (0.05 + 0.95 * 0.5))


@pytest.mark.parametrize("objective", ["elbo-stl", "iwae-stl", "iwae-dreg"])
def test_a_planar_guide_with_a_stopped_gradient_objective_is_refused_by_the_config(objective: str) -> None:
    """Refused when the config is built, before any model or step: a planar flow has no inverse."""
    import sys

    fresh = "vaelab.distributions.flow_guides" not in sys.modules
    with pytest.raises(ConfigError, match=f"train.objective: the objective '{objective}' scores z"):
        ExperimentConfig.from_dict({"model": {"posterior": "planar:2"}, "train": {"objective": objective}})
    if fresh:  # decided from the registries' names, without importing the flows (or torch)
        assert "vaelab.distributions.flow_guides" not in sys.modules
    for fine in ({"model": {"posterior": "planar:2"}, "train": {"objective": "iwae"}},
                 {"model": {"posterior": "iaf:2"}, "train": {"objective": objective}}):
        ExperimentConfig.from_dict(fine)


def test_a_component_registered_from_python_is_asked_whether_it_can_score_stopped() -> None:
    from vaelab import components
    from vaelab.distributions.flow_guides import IAFGuide, PlanarFlowGuide
    from vaelab.objectives.registry import DReGIWAEObjective, IWAEObjective, STLELBOObjective

    assert not PlanarFlowGuide.scores_stopped and IAFGuide.scores_stopped
    components.guide_families.add("my-planar", PlanarFlowGuide)
    try:
        assert components.stopped_gradient_problem("my-planar:2", "iwae-dreg") is not None
        for loss, stopped in ((DReGIWAEObjective, True), (STLELBOObjective, True), (IWAEObjective, False)):
            components.objectives.add("my-loss", loss)
            try:
                assert (components.stopped_gradient_problem("planar:2", "my-loss") is not None) == stopped
            finally:
                components.objectives.remove("my-loss")
    finally:
        components.guide_families.remove("my-planar")


@pytest.mark.parametrize("name, likelihood", [("deep-mnist", None),
                                              ("deep-fashion-8bit", "logistic-mixture:10")])
def test_the_deep_config_files_spell_out_the_preset(name: str, likelihood: str | None) -> None:
    """configs/deep-*.toml are `--model deep` (with its 8-bit settings for a grey-level likelihood)
    written out: every model and train setting the preset sets has the preset's value."""
    from vaelab.kinds.vae import GREY_LEVEL_SETTINGS, PRESETS, base_config

    path = Path(__file__).resolve().parents[2] / "configs" / f"{name}.toml"
    loaded = ExperimentConfig.load(path).to_dict()
    preset = base_config("deep", likelihood).to_dict()
    for section in ("model", "train"):
        keys = set(PRESETS["deep"][section]) | set(GREY_LEVEL_SETTINGS["deep"].get(section, {}))
        assert {k: loaded[section][k] for k in keys} == {k: preset[section][k] for k in keys}, section
