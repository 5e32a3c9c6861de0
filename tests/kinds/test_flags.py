"""`vaelab train`'s flags are made from the config fields: every flag maps to one config key and
back, each states its real default, and an older flag name stays an alias."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from vaelab import kinds
from vaelab.cli.main import build_parser
from vaelab.kinds import ssm
from vaelab.kinds.flags import common_flags, flags_of, option, overrides
from vaelab.kinds.semisupervised_experiment import SECTION, SemiSupervisedConfig
from vaelab.kinds.ssm_experiment import SequenceExperiment
from vaelab.kinds.vae import budget_flag
from vaelab.models.model_config import ModelConfig
from vaelab.settings import declared
from vaelab.training.config import DataConfig, TrainConfig

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _train_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices["train"]


def _tables() -> dict[str, dict[str, tuple[str, str]]]:
    """{kind: the flag table it reads its config from}."""
    return {"vae": common_flags(), "ssm": {**ssm.shared_flags()[0], **ssm.own_flags()},
            "semisupervised": {**common_flags(), **flags_of(SemiSupervisedConfig, SECTION)}}


def _text(action: argparse.Action) -> list[str]:
    """A value to type after a flag, of its type."""
    if action.nargs == 0:
        return []
    if action.choices:
        return [list(action.choices)[-1]]
    if action.nargs == "+":
        return ["0.5", "0.25"]
    return {"int_list": ["3,4"], "widths": ["3,4"], "int": ["3"], "float": ["0.5"],
            "labels_or_all": ["7"]}.get(getattr(action.type, "__name__", ""), ["x"])


def test_every_generated_flag_maps_to_a_config_key_and_back() -> None:
    parser = _train_parser()
    actions = {action.dest: action for action in parser._actions}
    configs = {"vae": SECTIONS, "ssm": ssm.SECTIONS,
               "semisupervised": {**SECTIONS, SECTION: SemiSupervisedConfig}}
    for kind, table in _tables().items():
        for dest, (section, key) in table.items():
            assert key in {f.name for f in fields(configs[kind][section])}, (kind, dest)
            action = actions[dest]
            args = parser.parse_args([action.option_strings[0], *_text(action)])
            given = overrides(args, table)
            assert list(given) == [section] and list(given[section]) == [key], (kind, dest, given)
    # and back: every setting that declares help has its flag, named as declared
    for section, cls in {**SECTIONS, SECTION: SemiSupervisedConfig}.items():
        for name, setting in declared(cls).items():
            if setting.help is not None:
                assert option(setting) in actions[name].option_strings, (section, name)


def test_flag_names_stay_those_users_know() -> None:
    options = {o for a in _train_parser()._actions for o in a.option_strings}
    assert {"--lr", "--kl-warmup", "--time-budget", "--minutes", "--bf16", "--m1-time-budget",
            "--hidden", "--eval-examples", "--noise-ceiling", "--init-transition",
            "--no-init-transition"} <= options
    args = _train_parser().parse_args(["--lr", "0.01", "--kl-warmup", "5", "--bf16", "--minutes", "2"])
    assert overrides(args, common_flags())["train"] == {
        "learning_rate": 0.01, "kl_warmup_steps": 5, "precision": "bf16", "time_budget_minutes": 2.0}


@pytest.mark.parametrize(("argv", "typed"), [(["--minutes", "2"], "--minutes"),
                                             (["--time-budget=2"], "--time-budget"),
                                             ([], "--time-budget"),
                                             (["--time-budget", "1", "--minutes", "2"], "--minutes")])
def test_minutes_is_an_alias_of_time_budget_and_the_typed_one_is_named(argv: list[str], typed: str) -> None:
    args = _train_parser().parse_args(argv)
    args.argv = argv
    assert budget_flag(args) == typed


def test_a_sequence_model_reads_the_shared_flags_under_its_own_keys() -> None:
    args = _train_parser().parse_args(["--model", "ssm", "--hidden", "8,8", "--time-budget", "1",
                                       "--eval-examples", "4", "--pendulum", "image_size=16"])
    config = SequenceExperiment().with_overrides(ssm.sequence_overrides(args))
    assert config.model.decoder_hidden == (8, 8) and config.train.time_budget_minutes == 1.0
    assert config.train.eval_examples == 4
    refused = _train_parser().parse_args(["--model", "ssm", "--lr-schedule", "cosine", "--kl-warmup", "3"])
    with pytest.raises(ValueError, match="--lr-schedule: not used by sequence models"):
        ssm.sequence_overrides(refused)


def test_help_states_each_flags_default() -> None:
    parser = _train_parser()
    formatter = parser._get_formatter()
    with_defaults = set()
    for kind in kinds.registered_kinds():
        for model in kind.models:
            with_defaults |= set(kind.module().flag_defaults(model))
    for action in parser._actions:
        if action.dest in with_defaults:
            assert "default" in (formatter._get_help_string(action) or ""), action.option_strings
    assert with_defaults >= set(common_flags())
