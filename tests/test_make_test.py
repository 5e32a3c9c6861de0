"""`make test` names every test it skipped and why (a browser, TensorBoard or a dataset missing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_test_names_each_skipped_test_and_why(tmp_path: Path) -> None:
    command = re.search(r"^\t\$\(PY\) -m pytest (.*)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert command is not None, "the Makefile's test target runs pytest"
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\n\n\ndef test_needs_a_browser():\n    pytest.skip('no browser here')\n")
    flags = [*command.group(1).split(), "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
             "--rootdir", str(tmp_path)]
    done = subprocess.run([sys.executable, "-m", "pytest", *flags, str(probe)],
                          capture_output=True, text=True, timeout=120)
    assert "1 skipped" in done.stdout, done.stdout
    assert "SKIPPED [1]" in done.stdout and "no browser here" in done.stdout
