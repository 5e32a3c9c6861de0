"""The concept and guide pages' code runs: their Python blocks are executed in order, one
namespace per page, with tiny sizes (one epoch, k = 20); every Python or shell block that is not
run says why, in a `<!-- not run: REASON -->` line just above it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p for folder in ("concepts", "guide") for p in (DOCS / folder).glob("*.md"))
BLOCK = re.compile(r"(?:<!-- not run: (?P<reason>[^>]+?) -->\n)?"
                   r"```(?P<lang>python|bash|sh)\n(?P<code>.*?)```", flags=re.S)
TINY = (("epochs=10", "epochs=1"), ("k=1000", "k=20"))


def blocks(page: Path) -> list[tuple[str, str, str | None]]:
    """(language, code, the reason it is not run or None) of each code block of a page."""
    return [(m["lang"], m["code"], m["reason"]) for m in BLOCK.finditer(page.read_text())]


def test_the_pages_have_code_and_every_shell_block_says_why_it_is_not_run() -> None:
    assert len(PAGES) >= 10
    unexplained = [f"{page.name}: {code.splitlines()[0]}" for page in PAGES
                   for lang, code, reason in blocks(page) if lang != "python" and not reason]
    assert unexplained == [], "shell blocks with neither a run nor a `<!-- not run: why -->` line"
    assert sum(lang == "python" for page in PAGES for lang, _, _ in blocks(page)) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if any(lang == "python" and reason is None
                                                          for lang, _, reason in blocks(p))],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_python_blocks_of_a_page_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for lang, code, reason in blocks(page):
            if lang != "python" or reason is not None:
                continue
            for old, new in TINY:
                code = code.replace(old, new)
            exec(compile(code, str(page), "exec"), namespace)  # noqa: S102 - our own pages
