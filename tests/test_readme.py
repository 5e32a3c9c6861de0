"""The README's Python examples run as written, in order (with one epoch instead of ten)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_blocks(blocks: list[str], folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Execute `blocks` in one namespace inside `folder`; what they printed."""
    monkeypatch.chdir(folder)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            code = block.replace("epochs=10", "epochs=1").replace("k=1000", "k=20")
            exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    return printed.getvalue()


@pytest.mark.slow
def test_the_python_api_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 3
    printed = run_blocks(blocks, tmp_path, monkeypatch)
    assert (tmp_path / "runs" / "mine" / "report.html").is_file()
    assert "weight_norm" in (tmp_path / "runs" / "watched" / "metrics.jsonl").read_text()  # from a callback
    assert "'mean'" in printed and "p(z2) p(z1 | z2) p(x | z1)" in printed


@pytest.mark.slow
def test_the_first_example_prints_the_same_numbers_on_every_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = python_blocks()[:1]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert run_blocks(first, tmp_path / "a", monkeypatch) == run_blocks(first, tmp_path / "b", monkeypatch)
