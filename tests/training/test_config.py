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
    shipped = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))
    assert shipped
    for path in shipped:
        assert ExperimentConfig.load(path).model.latent_dim >= 1
