"""`vaelab train` flags made from the config fields that declare them (vaelab.settings).

A field with `Help` becomes a flag: `--kebab-name` (or the `Help(flag=...)` name it has always
had, e.g. `--lr` for train.learning_rate), its type, choices from `OneOf`, and default None, so
that only what the user typed overrides a config file; the destination is the field's name. The
flags every kind shares are those of the VAE family's sections (COMMON); a kind's own come from
its own sections the same way. A flag table {destination: (section, key)} maps typed flags back
to config overrides, and a kind whose config names a shared setting otherwise (a sequence
model's decoder widths for `--hidden`) renames it in its table.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from vaelab.models.model_config import ModelConfig
from vaelab.settings import Declared, OneOf, Registered, element_type, int_list
from vaelab.settings import declared as declared_fields
from vaelab.training.config import DataConfig, TrainConfig

#: {destination: (section, key)}
FlagTable = dict[str, tuple[str, str]]
#: the flags of `vaelab train` every kind may use: (argument group, section, config class)
COMMON: tuple[tuple[str, str, type], ...] = (("data", "data", DataConfig), ("model", "model", ModelConfig),
                                             ("training", "train", TrainConfig))


def option(setting: Declared) -> str:
    """The flag of a declared setting: `--kebab-name`, or the name its Help keeps."""
    assert setting.help is not None
    return "--" + (setting.help.flag or setting.name.replace("_", "-"))


def checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` with its ValueError worded as argparse's one-line error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from error

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _value_type(setting: Declared) -> Callable[[str], Any]:
    assert setting.help is not None
    if setting.help.parse is not None:
        return checked(setting.help.parse)
    member = element_type(setting.hint)
    if member is not None:
        return member if setting.help.nargs else checked(int_list)
    hint = setting.hint
    plain = [h for h in getattr(hint, "__args__", (hint,)) if h is not type(None)]
    return plain[0] if len(plain) == 1 and plain[0] in (int, float) else str


def flag_arguments(setting: Declared) -> dict[str, Any]:
    """The keyword arguments of `add_argument` for a declared setting."""
    meta = setting.help
    assert meta is not None
    kwargs: dict[str, Any] = {"dest": setting.name, "help": meta.text, "default": None}
    if meta.const is not None:
        return {**kwargs, "action": "store_const", "const": meta.const}
    if setting.hint is bool:
        return {**kwargs, "action": argparse.BooleanOptionalAction if meta.negatable else "store_true"}
    kwargs["type"] = _value_type(setting)
    choices = next((c.choices for c in setting.constraints if isinstance(c, OneOf | Registered)), None)
    if choices is not None:
        kwargs["choices"] = choices
    if meta.metavar is not None or (meta.flag is not None and choices is None):
        kwargs["metavar"] = meta.metavar or meta.flag.upper().replace("-", "_")  # type: ignore[union-attr]
    if meta.nargs is not None:
        kwargs["nargs"] = meta.nargs
    return kwargs


def add_flags(group: Any, cls: type, section: str) -> FlagTable:
    """Add a flag for each field of `cls` that declares Help and has no flag in the parser yet
    (a shared setting a kind's class inherits keeps the one flag); returns their table."""
    taken = {action.dest for action in group._actions}
    table: FlagTable = {}
    for name, setting in declared_fields(cls).items():
        if setting.help is None or name in taken:
            continue
        group.add_argument(option(setting), *setting.help.aliases, **flag_arguments(setting))
        table[name] = (section, name)
    return table


def add_common_flags(parser: argparse.ArgumentParser) -> FlagTable:
    """The data / model / training flags of `vaelab train`, each in its argument group."""
    table: FlagTable = {}
    for title, section, cls in COMMON:
        table |= add_flags(parser.add_argument_group(title), cls, section)
    return table


@functools.cache
def common_flags() -> FlagTable:
    """{destination: (section, key)} of the flags add_common_flags adds."""
    return {name: (section, name) for _, section, cls in COMMON
            for name, setting in declared_fields(cls).items() if setting.help is not None}


def common_option(dest: str) -> str:
    """The flag of a shared setting's destination as the user types it (`--lr` for
    learning_rate); `--dest-in-kebab-case` for any other."""
    for _, _, cls in COMMON:
        setting = declared_fields(cls).get(dest)
        if setting is not None and setting.help is not None:
            return option(setting)
    return "--" + dest.replace("_", "-")


def flags_of(cls: type, section: str) -> FlagTable:
    """The table of the flags `cls` declares."""
    return {name: (section, name) for name, setting in declared_fields(cls).items()
            if setting.help is not None}


def for_kind(table: FlagTable, sections: Mapping[str, type],
             renamed: Mapping[str, str] | None = None) -> tuple[FlagTable, list[str]]:
    """(the flags of `table` a kind's config has a key for, the destinations of the others), with
    `renamed` {destination: the kind's key} where the kind names a setting otherwise."""
    usable: FlagTable = {}
    unused: list[str] = []
    for dest, (section, key) in table.items():
        key = (renamed or {}).get(dest, key)
        if section in sections and key in {f.name for f in fields(sections[section])}:
            usable[dest] = (section, key)
        else:
            unused.append(dest)
    return usable, unused


def overrides(args: argparse.Namespace, table: FlagTable) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} of the flags of `table` the user gave."""
    out: dict[str, dict[str, Any]] = {}
    for dest, (section, key) in table.items():
        value = getattr(args, dest, None)
        if value is not None:
            out.setdefault(section, {})[key] = value
    return out


def defaults(config: Mapping[str, Any], table: FlagTable) -> dict[str, Any]:
    """{destination: its value in a config dict}, for the flags of `table` (shown in --help)."""
    return {dest: config[section][key] for dest, (section, key) in table.items()
            if key in config.get(section, {})}


def typed_flag(args: argparse.Namespace, names: tuple[str, ...]) -> str:
    """Which of a flag's names the user typed last (the one applied), else its first name."""
    for word in reversed(getattr(args, "argv", None) or []):
        if word.split("=", 1)[0] in names:
            return word.split("=", 1)[0]
    return names[0]


__all__ = ["COMMON", "FlagTable", "add_common_flags", "add_flags", "checked", "common_flags",
           "common_option", "defaults", "flag_arguments", "flags_of", "for_kind", "option", "overrides",
           "typed_flag"]
