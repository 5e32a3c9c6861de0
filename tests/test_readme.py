"""The README's Python example runs as written (with one epoch instead of ten). The README keeps
one example; the callback and graph-model examples it used to hold are on the guide pages, whose
Python blocks tests/docs/test_guide_pages.py runs."""

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
    assert len(blocks) >= 1
    printed = run_blocks(blocks, tmp_path, monkeypatch)
    assert (tmp_path / "runs" / "mine" / "report.html").is_file()
    assert (tmp_path / "runs" / "mine" / "metrics.jsonl").is_file()
    assert "'mean'" in printed


@pytest.mark.slow
def test_the_first_example_prints_the_same_numbers_on_every_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = python_blocks()[:1]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert run_blocks(first, tmp_path / "a", monkeypatch) == run_blocks(first, tmp_path / "b", monkeypatch)


def test_the_readme_is_a_first_visit_and_its_links_resolve() -> None:
    """≤ 150 lines (the site holds the rest); every relative link, into docs/ or elsewhere in the
    repository, names a file or folder that exists, so the links work on GitHub too."""
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert any(t.startswith("docs/") for t in targets)
    missing = [t for t in targets if t and not (README.parent / t).exists()]
    assert missing == [], f"README links to files that do not exist: {missing}"
