"""The kind contract holds: outside vaelab/kinds/ no code asks which kind a run or config is —
every command on a run goes through its kind's module (kinds.command_of)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vaelab"
KIND_TESTS = re.compile(r"""(\.name|\bkind)\s*[!=]=\s*["']"""
                        r"""(vae|ssm|semisupervised|m2|m1m2|adgm|sdgm|custom)["']"""
                        r"""|isinstance\([^)]*,\s*\w*Experiment\)""")


def test_no_kind_is_tested_by_name_outside_the_kinds_package() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py")) if "kinds" not in path.relative_to(PACKAGE).parts
             for number, line in enumerate(path.read_text().splitlines(), 1) if KIND_TESTS.search(line)]
    assert found == []


def test_the_check_would_see_one() -> None:
    assert KIND_TESTS.search('    if kind.name == "ssm":')
    assert KIND_TESTS.search("    if isinstance(config, SemiSupervisedExperiment):")
    assert not KIND_TESTS.search('    if model.data_kind == "binary":')
