"""Settings declared once: every constraint of every config refuses a bad value naming the field and
what is allowed, and the shared training settings are one set under one name in every kind."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from vaelab.data.errors import DataError
from vaelab.data.pendulum_config import PendulumConfig
from vaelab.kinds.semisupervised_experiment import SemiSupervisedConfig, load_experiment
from vaelab.kinds.ssm_experiment import SequenceDataConfig, SequenceExperiment, SequenceTrainConfig
from vaelab.models.model_config import ModelConfig
from vaelab.models.ssm_config import SSMConfig
from vaelab.settings import ConfigError, Matches, NonEmpty, OneOf, Range, Registered, declared
from vaelab.training.config import DataConfig, ExperimentConfig, TrainConfig
from vaelab.training.train_settings import TrainSettings

#: every config class with its section (the prefix of its errors)
CONFIGS: dict[type, str] = {TrainConfig: "train", SequenceTrainConfig: "train", DataConfig: "data",
                            SequenceDataConfig: "data", ModelConfig: "model", SSMConfig: "model",
                            SemiSupervisedConfig: "semisupervised", PendulumConfig: "pendulum"}
RUNS = Path(__file__).resolve().parent / "compatibility" / "runs"


def _bad(constraint: Any) -> Any:
    """A value the constraint refuses (of the field's shape: an element of a tuple field)."""
    if isinstance(constraint, Range):
        low, high = constraint.low, constraint.high
        value = low if (low is not None and constraint.open_low) else (
            low - 1 if low is not None else high + 1)
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(constraint, OneOf | Registered):
        return "no-such-choice"
    if isinstance(constraint, Matches):
        return "???"
    assert isinstance(constraint, NonEmpty)
    return ()


def _cases() -> list[Any]:
    cases = []
    for cls, section in CONFIGS.items():
        for name, setting in declared(cls).items():
            for constraint in setting.constraints:
                cases.append(pytest.param(cls, section, name, constraint,
                                          id=f"{cls.__name__}.{name}-{type(constraint).__name__}"))
    return cases


@pytest.mark.parametrize(("cls", "section", "name", "constraint"), _cases())
def test_each_constraint_refuses_a_bad_value_naming_the_field_and_what_is_allowed(
        cls: type, section: str, name: str, constraint: Any) -> None:
    default = getattr(cls(), name)
    value = _bad(constraint)
    tuple_field = isinstance(default, tuple) or "tuple" in str(declared(cls)[name].hint)
    if tuple_field and not isinstance(value, tuple):
        value = (value,) * (3 if cls is SSMConfig else 1)  # noise_ceiling: one per latent dimension
    with pytest.raises(DataError if cls is PendulumConfig else ConfigError) as error:
        cls(**{name: value})
    message = str(error.value)
    assert message.startswith(f"{section}.{name}: "), message
    declared_here = declared(cls)[name].constraints
    if isinstance(constraint, Range):  # the range refused (or a narrower one a kind declares)
        assert "must be" in message
        assert any(f"{c.allowed()}" in message for c in declared_here if isinstance(c, Range))
    if isinstance(constraint, NonEmpty):
        assert f"needs {constraint.what}" in message
    if isinstance(constraint, Registered) and constraint.parsed is not None:  # "name:K" names
        assert constraint.parsed(value) in message
    elif isinstance(constraint, OneOf | Registered):
        assert "no-such-choice' is not one of " + ", ".join(
            next(c for c in declared_here if isinstance(c, OneOf | Registered)).choices) in message


def test_the_shared_training_settings_have_one_name_in_every_kind() -> None:
    shared = [f.name for f in fields(TrainSettings)]
    for kind in (TrainConfig, SequenceTrainConfig):
        names = [f.name for f in fields(kind)]
        assert names[:len(shared)] == shared
    assert "minutes" not in {f.name for f in fields(SequenceTrainConfig)}
    # a kind may start elsewhere or narrow a range; the constraint declared once still applies
    assert SequenceTrainConfig().epochs == 30 and TrainConfig().epochs == 10
    with pytest.raises(ConfigError, match=r"train.samples: must be in \[1, 1000\]"):
        SequenceTrainConfig(samples=2000)
    with pytest.raises(ConfigError, match=r"train.time_budget_minutes: must be >= 0"):
        SequenceTrainConfig(time_budget_minutes=-1)


def test_old_run_folders_of_every_kind_still_load(tmp_path: Path) -> None:
    vae = ExperimentConfig.load(RUNS / "vae" / "config.json")
    assert vae.train.eval_examples == 64 and vae.train.time_budget_minutes == 0.0
    ssm = SequenceExperiment.load(RUNS / "ssm" / "config.json")  # saved with minutes, eval_sequences
    old = json.loads((RUNS / "ssm" / "config.json").read_text())["train"]
    assert ssm.train.time_budget_minutes == old["minutes"]
    assert ssm.train.eval_examples == old["eval_sequences"]
    ssm.save(tmp_path / "ssm.json")
    saved = json.loads((tmp_path / "ssm.json").read_text())["train"]
    assert "minutes" not in saved and saved["time_budget_minutes"] == old["minutes"]
    assert SequenceExperiment.load(tmp_path / "ssm.json") == ssm
    # a semi-supervised run saved before m1_features / select_by / unlabelled existed
    semi = json.loads((RUNS / "vae" / "config.json").read_text())
    semi["semisupervised"] = {"kind": "m2", "labels": 100, "classes": None, "alpha": 0.1,
                              "labelled_batch_size": 100, "classifier_hidden": [500],
                              "m2_latent_dim": 50, "m2_hidden": [500], "m1_run": None, "m1_epochs": 50}
    (tmp_path / "semi.json").write_text(json.dumps(semi))
    loaded = load_experiment(tmp_path / "semi.json")
    assert loaded.semisupervised.classifier_hidden == (500,) and loaded.train.eval_examples == 64
    # an older name in a config file or an override, and the two names at once
    (tmp_path / "old.toml").write_text('kind = "ssm"\n[train]\nminutes = 2.5\neval_sequences = 7\n')
    toml = SequenceExperiment.load(tmp_path / "old.toml")
    assert (toml.train.time_budget_minutes, toml.train.eval_examples) == (2.5, 7)
    assert SequenceExperiment().with_overrides({"train": {"minutes": 4}}).train.time_budget_minutes == 4
    with pytest.raises(ConfigError, match="train: minutes and time_budget_minutes are one setting"):
        SequenceExperiment.from_dict({"train": {"minutes": 1, "time_budget_minutes": 2}})
