"""The reference pages agree with the code: every public name has a docstring, the command-line
page lists every command and flag of the parser, the config page every key of every config."""

from __future__ import annotations

import dataclasses
import re
from types import ModuleType


def test_every_public_name_has_a_docstring(reference_pages: ModuleType) -> None:
    package = reference_pages.griffe_package()
    missing = []
    for public, names in reference_pages.public_api().items():
        for name, path in names.items():
            found = package[path.removeprefix("vaelab.")]
            if found.docstring is None or not found.docstring.value.strip():
                missing.append(f"{public}.{name} (defined as {path})")
    assert missing == [], "public names without a docstring (the API reference would be empty):\n" + \
        "\n".join(missing)


def test_every_public_name_is_on_a_reference_page(reference_pages: ModuleType) -> None:
    pages = {package: reference_pages.api_page(package) for package in reference_pages.PACKAGES}
    for package, names in reference_pages.public_api().items():
        for name, path in names.items():
            home = reference_pages.home_page()[path]
            assert f"::: {path}\n" in pages[home], f"{package}.{name} is not documented on {home}'s page"
            if home != package:
                assert f"[`{name}`][{path}]" in pages[package], f"{package}'s page does not link {name}"


def _commands_in(page: str) -> dict[str, str]:
    """{command: the --help text shown for it} read back from the command-line page."""
    blocks = re.findall(r"^## `vaelab (\w+)`.*?\n\n```text\n(.*?)\n```", page, flags=re.S | re.M)
    return dict(blocks)


def test_the_command_line_page_and_the_parser_agree(reference_pages: ModuleType) -> None:
    page = reference_pages.cli_page()
    shown = _commands_in(page)
    commands = reference_pages.subcommands(reference_pages.parser())
    assert set(shown) == set(commands), "commands on the page differ from `vaelab --help`'s"
    for name, command in commands.items():
        assert shown[name] == reference_pages.help_text(command), f"vaelab {name}: the page is not its --help"
        flags = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", shown[name]))
        missing = {flag for flag in reference_pages.option_strings(command) if flag.startswith("-")} - flags
        assert missing == set(), f"vaelab {name}: flags of the parser missing from the page: {missing}"
        assert f"(#vaelab-{name})" in page, f"the page's command table lacks vaelab {name}"


def test_the_config_page_lists_every_key_with_its_default(reference_pages: ModuleType) -> None:
    page = reference_pages.config_page()
    rows = {line.split(" |")[0].strip("| `") for line in page.splitlines() if line.startswith("| `")}
    for _, experiment, _ in reference_pages.experiments():
        for section, cls in reference_pages.sections(experiment):
            for field in dataclasses.fields(cls):
                assert f"{section}.{field.name}" in rows, f"{cls.__name__}.{field.name}: not on the page"
    assert "| `train.epochs` | `int` | `10` | in [0, 100000] | `--epochs` |" in page
    assert "`--lr`" in page and "one of `fp32`, `bf16`" in page
