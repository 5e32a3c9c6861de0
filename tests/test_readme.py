"""The README's Python examples run as written (with one epoch instead of ten)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_python_api_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        code = block.replace("epochs=10", "epochs=1").replace("k=1000", "k=20")
        if not re.search(r"^x = ", code, flags=re.M) and "(model, x" in code:  # the estimators need a batch
            code = "import torch\nx = torch.bernoulli(torch.rand(4, 1, 28, 28))\n" + code
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert (tmp_path / "runs" / "mine" / "report.html").is_file()
