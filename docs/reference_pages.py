"""The site's reference pages, generated at build time from the code itself (an MkDocs hook).

* `reference/api/*.md`: one page per public package, one mkdocstrings block per public name
  (each package's `__all__`, lazily loaded names included), documented once, on the page of
  the package that defines it;
* `reference/cli.md`: every command's `--help`, rendered by the parser `vaelab` runs;
* `reference/config.md`: every config key with its type, default, allowed values and flag, read
  from the config dataclasses' declarations (vaelab.settings).

Nothing here is hand-written about vaelab: change the code and the pages follow. The tests
(tests/docs/) import this file to check that the pages and the code agree.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `mkdocs build` from a checkout that is not installed
    sys.path.insert(0, str(ROOT))

#: the packages with a reference page, in the order of the site's navigation
PACKAGES = ("vaelab", "vaelab.models", "vaelab.distributions", "vaelab.nn", "vaelab.objectives",
            "vaelab.data", "vaelab.training", "vaelab.evaluation", "vaelab.runs", "vaelab.reports",
            "vaelab.kinds", "vaelab.settings")
HELP_COLUMNS = "100"  # --help is rendered at this width, whatever the terminal that builds the site


# --------------------------------------------------------------------------- the Python API

@functools.cache
def griffe_package() -> Any:
    """vaelab as griffe (mkdocstrings' reader) sees it: from the source, imports unresolved."""
    import griffe

    return griffe.load("vaelab", search_paths=[str(ROOT)], docstring_parser="google")


def _defining_path(package: str, name: str) -> str:
    """The dotted path of the object `package.name` names, in the module that defines it."""
    module = importlib.import_module(package)
    obj = getattr(module, name)
    if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__.startswith("vaelab"):
        path = f"{obj.__module__}.{obj.__qualname__}"
    else:  # a constant: where the package's lazy table says, else the package itself
        lazy = getattr(module, "_PUBLIC", None) or getattr(module, "_EXPORTS", None) or {}
        path = f"{lazy.get(name, package)}.{name}"
    found = griffe_package()[path.removeprefix("vaelab.")] if path != "vaelab" else griffe_package()
    while found.is_alias:  # `from x import NAME`: follow it to its definition
        found = found.target
    return found.path


@functools.cache
def public_api() -> dict[str, dict[str, str]]:
    """{package: {public name: the dotted path of its definition}} for every page's package."""
    out = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        names = [n for n in getattr(module, "__all__", ()) if not n.startswith("__")]
        out[package] = {name: _defining_path(package, name) for name in sorted(names, key=str.lower)}
    return out


@functools.cache
def home_page() -> dict[str, str]:
    """{definition path: the package whose page documents it}: the deepest package that lists the
    name and whose module path contains the definition (else the first that lists it)."""
    home: dict[str, str] = {}
    for package, names in public_api().items():
        for path in names.values():
            current = home.get(path)
            inside = path.startswith(package + ".")
            if current is None or (inside and (not path.startswith(current + ".")
                                               or len(package) > len(current))):
                home[path] = package
    return home


def page_name(package: str) -> str:
    return "index" if package == "vaelab" else package.removeprefix("vaelab.")


def api_page(package: str) -> str:
    """The markdown of `package`'s reference page."""
    module = importlib.import_module(package)
    summary = inspect.cleandoc(module.__doc__ or "").split("\n\n")[0]
    lines = [f"# `{package}`", "", summary, "",
             "Generated from the docstrings by `docs/reference_pages.py`; every public name (the "
             "package's `__all__`) is listed.", ""]
    own = {n: p for n, p in public_api()[package].items() if home_page()[p] == package}
    elsewhere = {n: p for n, p in public_api()[package].items() if home_page()[p] != package}
    if elsewhere:
        lines += ["| name | documented with |", "| --- | --- |"]
        lines += [f"| [`{name}`][{path}] | `{home_page()[path]}` |" for name, path in elsewhere.items()]
        lines.append("")
    for path in own.values():
        lines += [f"::: {path}", "    options:", "      heading_level: 2",
                  "      show_root_heading: true", "      show_root_full_path: false", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the command line

def parser() -> argparse.ArgumentParser:
    from vaelab.cli.main import build_parser

    return build_parser()


def subcommands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """{command: its parser} in the order `vaelab --help` lists them."""
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices.items())


def option_strings(command: argparse.ArgumentParser) -> set[str]:
    """Every flag a command's parser takes (its positional arguments by their metavar)."""
    out: set[str] = set()
    for action in command._actions:
        if action.help == argparse.SUPPRESS:
            continue
        out |= set(action.option_strings) or {action.metavar or action.dest}
    return out


def help_text(command: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return command.format_help().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def cli_page() -> str:
    """The markdown of the command-line reference: `vaelab --help`, then each command's."""
    top = parser()
    commands = subcommands(top)
    lines = ["# Command line", "",
             "Every command and flag of `vaelab`, rendered at build time by the parser the command "
             "itself runs (`vaelab.cli.main.build_parser`), so this page cannot drift from "
             "`vaelab COMMAND --help`. Flags are typed whole (no abbreviations); a config key and its "
             "flag are one setting (see [Config keys](config.md)).", "",
             "| command | what it does |", "| --- | --- |"]
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    about = {choice.dest: choice.help for choice in action._choices_actions}
    lines += [f"| [`vaelab {name}`](#vaelab-{name}) | {about.get(name, '')} |" for name in commands]
    lines += ["", "## `vaelab`", "", "```text", help_text(top), "```", ""]
    for name, command in commands.items():
        lines += [f"## `vaelab {name}` {{ #vaelab-{name} }}", "", "```text", help_text(command), "```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- config keys

def experiments() -> list[tuple[str, type, str]]:
    """(title, experiment config class, what it is for) of each built-in kind."""
    from vaelab.kinds.semisupervised_experiment import SemiSupervisedExperiment
    from vaelab.kinds.ssm_experiment import SequenceExperiment
    from vaelab.training.config import ExperimentConfig

    return [("VAE family (`--model vae`, `deep`)", ExperimentConfig,
             "VAEs, IWAEs, hierarchical and deep models on images"),
            ("Semi-supervised (`--model m2`, `m1m2`, `adgm`, `sdgm`)", SemiSupervisedExperiment,
             "classifiers trained on a few labels"),
            ("Sequence models (`--model ssm`)", SequenceExperiment,
             "state-space models of the pendulum")]


def sections(experiment: type) -> list[tuple[str, type]]:
    """(section name, config class) of an experiment config's sections, in declaration order."""
    out = []
    for f in dataclasses.fields(experiment):
        if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory):
            out.append((f.name, f.default_factory))
    return out


def _type_name(hint: Any) -> str:
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    return text.replace("typing.", "").replace("NoneType", "None")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{value!r}`".replace("'", '"') if not isinstance(value, str) else f'`"{value}"`'


def _allowed(setting: Any) -> str:
    from vaelab.settings import Matches, NonEmpty, OneOf, Range, Registered

    parts = []
    for constraint in setting.constraints:
        if isinstance(constraint, Range):
            parts.append(constraint.allowed() + (f" ({constraint.note})" if constraint.note else ""))
        elif isinstance(constraint, OneOf):
            parts.append("one of " + ", ".join(f"`{c}`" for c in constraint.choices))
        elif isinstance(constraint, Registered):
            names = ", ".join(f"`{c}`" for c in constraint.registry.names())
            parts.append(f"registered: {names}" + (" (a name may take a parameter, `name:K`)"
                                                    if constraint.parsed is not None else ""))
        elif isinstance(constraint, Matches):
            parts.append(constraint.allowed)
        elif isinstance(constraint, NonEmpty):
            parts.append(f"needs {constraint.what}")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_table(cls: type, section: str) -> list[str]:
    from vaelab.kinds.flags import option
    from vaelab.settings import declared

    rows = ["| key | type | default | allowed | flag | meaning |", "| --- | --- | --- | --- | --- | --- |"]
    settings = declared(cls)
    for f in dataclasses.fields(cls):
        setting = settings[f.name]
        flag = f"`{option(setting)}`" if setting.help is not None else ""
        meaning = setting.help.text if setting.help is not None else ""
        rows.append(f"| `{section}.{f.name}` | `{_cell(_type_name(setting.hint))}` | {_cell(_default(f))} "
                    f"| {_cell(_allowed(setting))} | {flag} | {_cell(meaning)} |")
    return rows


def config_page() -> str:
    """The markdown of the config-key reference."""
    from vaelab.data.pendulum_config import PendulumConfig

    lines = ["# Config keys", "",
             "Every key of a config file (TOML or JSON, sections `[model]`, `[data]`, `[train]` and a "
             "kind's own), read from the config dataclasses' declarations (`vaelab.settings`: `Range`, "
             "`OneOf`, `Registered`, `Matches`, `NonEmpty`, `Help`) when the site is built. A bad value "
             "is refused naming the key and what is allowed, e.g. "
             "`train.epochs: must be in [0, 100000], got -1`. A key with a flag is the same setting as "
             "that flag; the defaults below are the config classes'; a `--model` preset may start "
             "from others (`vaelab train --help` states each kind's).", ""]
    for title, experiment, what in experiments():
        lines += [f"## {title}", "", f"`{experiment.__module__}.{experiment.__qualname__}`: {what}.", ""]
        for section, cls in sections(experiment):
            lines += [f"### `[{section}]` of {title.split(' (')[0]}", "",
                      f"`{cls.__module__}.{cls.__qualname__}`", ""]
            lines += config_table(cls, section) + [""]
    lines += ["## Pendulum simulator (`--pendulum KEY=VALUE`)", "",
              "`vaelab.data.pendulum_config.PendulumConfig`: the simulated data of sequence runs and "
              "`vaelab simulate pendulum`; a key is given as `--pendulum KEY=VALUE`.", ""]
    lines += config_table(PendulumConfig, "pendulum") + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- examples, benchmarks

#: the committed outputs of one full run of each example (docs/example_outputs.py writes them)
EXAMPLE_OUTPUTS = ROOT / "docs" / "images" / "examples"
#: {file suffix: caption} of the report pictures an example's output may include
EXAMPLE_PICTURES = {"samples": "samples from the prior", "reconstructions": "test images beside their "
                    "reconstructions", "training-curves": "training curves"}


def example_output(script: Path) -> list[str]:
    """What one full run of `script` printed, and the pictures of its report, as committed."""
    printed = EXAMPLE_OUTPUTS / f"{script.stem}.txt"
    if not printed.is_file():
        return []
    lines = ["**Output** of one full run as written (first line: the command and its time), kept in "
             "`docs/images/examples/`:", "",
             "```text", f'--8<-- "docs/images/examples/{printed.name}"', "```", ""]
    for suffix, caption in EXAMPLE_PICTURES.items():
        if (EXAMPLE_OUTPUTS / f"{script.stem}-{suffix}.png").is_file():
            lines += [f"![{script.name}: {caption}](images/examples/{script.stem}-{suffix}.png)", ""]
    return lines


def examples_page() -> str:
    """Every script in examples/: what it shows (its docstring), how to run it, what one full run of
    it printed and drew, its source."""
    lines = ["# Examples", "",
             "Every script in `examples/`, with its docstring and source as committed (this page is "
             "generated from the files). Each runs as written (`python examples/NAME.py`); the test "
             "suite runs every one on a tiny budget (tests/test_examples.py), so none of them rots.", "",
             "The outputs shown are committed files from one full run of each script with its defaults, "
             "made by `python docs/example_outputs.py --data-dir ../shared/data` (about 2.5 minutes on 2 "
             "CPU cores, one thread): what the script printed, and the pictures of the HTML report it "
             "wrote, if it writes one. Run that command to make them again after changing an example.", ""]
    for script in sorted((ROOT / "examples").glob("*.py")):
        source = script.read_text()
        doc = inspect.cleandoc(ast.get_docstring(ast.parse(source)) or "")
        lines += [f"## `{script.name}`", "", doc, "", "```bash", f"python examples/{script.name}", "```", "",
                  *example_output(script),
                  '??? example "Source"', "", "    ```python"]
        lines += [("    " + line).rstrip() for line in source.splitlines()]
        lines += ["    ```", ""]
    return "\n".join(lines)


def benchmark_files() -> dict[str, Path]:
    """{site path: file} of bench/README.md (as the Benchmarks page) and the figures it shows."""
    out = {"benchmarks/index.md": ROOT / "bench" / "README.md"}
    for figure in sorted((ROOT / "bench" / "results").glob("*.png")):
        out[f"benchmarks/results/{figure.name}"] = figure
    return out


# --------------------------------------------------------------------------- the MkDocs hook

def generated_pages() -> dict[str, str]:
    """{path under docs/: markdown} of every generated page."""
    pages = {f"reference/api/{page_name(p)}.md": api_page(p) for p in PACKAGES}
    pages["reference/cli.md"] = cli_page()
    pages["reference/config.md"] = config_page()
    pages["examples.md"] = examples_page()
    return pages


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated pages, and bench/README.md with its figures, to the site
    (none of them is written to docs/)."""
    from mkdocs.structure.files import File

    for path, text in generated_pages().items():
        files.append(File.generated(config, path, content=text))
    for path, source in benchmark_files().items():
        files.append(File.generated(config, path, abs_src_path=str(source)))
    return files


__all__ = ["api_page", "cli_page", "config_page", "generated_pages", "on_files", "option_strings",
           "public_api", "subcommands"]
