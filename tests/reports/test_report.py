"""Reports of tiny real runs: which sections appear for which run, and what they say."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vaelab.kinds import KindError, load_run
from vaelab.reports import REPORT_HTML, Table, Text, load_context, write_report
from vaelab.reports.summary import final_metrics

from .conftest import EXAMPLES

KEY_SECTIONS = ("summary", "metrics", "curves", "samples", "reconstructions", "interpolations",
                "latent-usage", "traversals", "latent-space")


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', page)


def test_two_dimensional_run_gets_the_manifold_and_the_estimators(report_2d: Path,
                                                                   run_2d: Path) -> None:
    assert report_2d == run_2d / REPORT_HTML
    page = report_2d.read_text()
    ids = section_ids(page)
    for key in (*KEY_SECTIONS, "manifold", "estimators"):
        assert f"run1-{key}" in ids, key
    assert "principal component" not in page  # a 2-D latent is shown as it is
    assert "The latent space is 2-D, shown as it is." in page
    # test metrics with standard errors, active units by Burda's criterion
    assert re.search(r"test ELBO</td><td class=\"num\">-\d+\.\d\d ± \d+\.\d\d</td>", page)
    assert re.search(r"active units</td><td>2 of 2</td>", page)
    assert "z1 (A=" not in page  # traversal labels live in the figure, not the text
    assert "prior MC log p(x)" in page and page.count("<tr><td class=\"num\">1") >= 1


def test_report_is_self_contained(report_2d: Path) -> None:
    page = report_2d.read_text()
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    assert len(sources) == 9 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_several_runs_get_a_comparison_and_runs_without_estimators_omit_them(
        run_2d: Path, run_4d: Path, tmp_path: Path) -> None:
    out = write_report([run_2d, run_4d], load_run, out=tmp_path, examples=EXAMPLES)
    assert out == tmp_path / REPORT_HTML
    page = out.read_text()
    ids = section_ids(page)
    assert ids[:2] == ["comparison-table", "comparison-curves"]
    table = page[page.index('id="comparison-table"'):page.index('id="comparison-curves"')]
    assert "latent2" in table and "latent4" in table
    assert table.count("mnist-5k") == 2 and table.count("bernoulli") == 2
    assert re.search(r"<td>latent4</td><td>mnist-5k</td><td>bernoulli</td>"
                     r"<td class=\"num\">4</td><td class=\"num\">1</td>", table)
    assert "(k = 10)" in table
    assert "run1-estimators" in ids and "run2-estimators" not in ids  # no estimators.json
    assert "run1-manifold" in ids and "run2-manifold" not in ids  # 4-D latent: no manifold
    scatter = page[page.index('id="run2-latent-space"'):]
    assert "projected on their first two principal components" in scatter[:scatter.index("</section>")]


def test_run_without_test_metrics_says_how_to_get_them(run_4d: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_4d, copy)
    (copy / "metrics.json").unlink()
    run = load_context(copy, load_run, examples=EXAMPLES)
    assert run.metrics is None and run.estimators is None
    section = final_metrics(run)
    text = " ".join(b.text for b in section.blocks if isinstance(b, Text))
    assert "metrics.json is missing" in text and f"vaelab evaluate {copy}" in text
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert [row[0] for row in table.rows] == ["KL(q(z|x) ‖ p(z))", "active units"]


def test_not_a_run_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KindError, match="not a vaelab run folder"):
        write_report([tmp_path], load_run)
    with pytest.raises(ValueError, match="at least one"):
        write_report([], load_run)
