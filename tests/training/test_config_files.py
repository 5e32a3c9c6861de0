"""Config files and sectioned dicts: one reader and one builder shared by every experiment config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from vaelab.training.config import ConfigError
from vaelab.training.config_files import build_sections, read_config_file


@dataclass(frozen=True)
class Part:
    size: int = 1

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"part.size: must be >= 1, got {self.size}")


def test_read_toml_and_json(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[model]\nsize = 3\n")
    (tmp_path / "a.json").write_text('{"model": {"size": 3}}')
    expected = {"model": {"size": 3}}
    assert read_config_file(tmp_path / "a.toml") == read_config_file(tmp_path / "a.json") == expected


@pytest.mark.parametrize(("text", "message"), [("[model", "cannot parse"), ("[1, 2]", "must hold sections")])
def test_read_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / ("x.toml" if text.startswith("[model") else "x.json")
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_config_file(path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing.toml")


def test_build_sections_defaults_and_errors() -> None:
    assert build_sections({}, {"model": Part}) == {"model": Part()}
    assert build_sections({"model": {"size": 2}}, {"model": Part})["model"].size == 2
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['extra'\]"):
        build_sections({"extra": {}}, {"model": Part})
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) \['width'\]; allowed: \['size'\]"):
        build_sections({"model": {"width": 2}}, {"model": Part})
    with pytest.raises(ConfigError, match="part.size"):
        build_sections({"model": {"size": 0}}, {"model": Part})
    with pytest.raises(ConfigError, match="table/object"):
        build_sections({"model": 3}, {"model": Part})


def test_whole_floats_of_older_files_load_as_integers_and_fractions_are_refused() -> None:
    from vaelab.training.config import ConfigError, ExperimentConfig

    # JSON and TOML may write an integer as 10.0 or 1e3; runs saved that way must still load
    config = ExperimentConfig.from_dict({"train": {"epochs": 10.0, "seed": 1e3, "compile": 0}})
    assert config.train.epochs == 10 and isinstance(config.train.epochs, int) and config.train.seed == 1000
    with pytest.raises(ConfigError, match="train.epochs: expected int, got 1.5"):
        ExperimentConfig.from_dict({"train": {"epochs": 1.5}})
