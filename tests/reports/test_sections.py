"""The section registry: built-in order, a plug-in section appearing in the page, and removal."""

from __future__ import annotations

import re

import pytest
import torch

from vaelab.reports import (
    RunContext,
    Section,
    Table,
    Text,
    register_section,
    render_report,
    run_sections,
    sections,
    unregister,
)
from vaelab.reports.blocks import Figure
from vaelab.reports.page import Part, render_page

BUILT_IN = ["run_summary", "final_metrics", "training_curves", "prior_samples", "reconstructions",
            "interpolations", "latent_usage", "latent_traversals", "latent_scatter",
            "decoded_manifold", "estimator_comparison"]


def test_built_in_sections_are_registered_in_page_order() -> None:
    names = [fn.__name__ for fn in run_sections()]
    assert [n for n in names if n in BUILT_IN] == BUILT_IN


def test_a_registered_section_appears_and_disappears(context_2d: RunContext,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # keep two cheap built-ins, so the page renders in a blink; the registry is restored after
    kept = [e for e in sections._RUN if e.build.__name__ in ("run_summary", "final_metrics")]
    monkeypatch.setattr(sections, "_RUN", kept)
    seen: list[str] = []

    @register_section(order=15)
    def custom(run: RunContext) -> Section:
        seen.append(run.name)
        return Section("custom-check", "A <custom> section",
                       (Text(f"latent dim {run.model.latent_dim} & more"),
                        Table(("a", "b"), (("1", "<b>"),))))

    @register_section
    def nothing(run: RunContext) -> Section | None:
        return None

    try:
        names = [fn.__name__ for fn in run_sections()]
        assert names == ["run_summary", "custom", "final_metrics", "nothing"]
        with pytest.raises(ValueError, match="already registered"):
            register_section(custom)
        page = render_report([context_2d])
    finally:
        unregister(custom)
        unregister(nothing)
    assert seen == [context_2d.name]
    ids = re.findall(r'<section id="([^"]+)"', page)
    assert ids == ["run1-summary", "run1-custom-check", "run1-metrics"]
    assert "A &lt;custom&gt; section" in page and "latent dim 2 &amp; more" in page
    assert "<td>&lt;b&gt;</td>" in page
    assert "custom" not in [fn.__name__ for fn in run_sections()]


def test_page_escapes_text_and_inlines_figures() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    section = Section("s", 'quote " and <script>', (Figure(png, 'alt "x"', "cap <i>"),))
    page = render_page("t <1>", [Part("p", "part & co", (section,))])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'alt="alt &quot;x&quot;"' in page and "cap &lt;i&gt;" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo' in page
    with pytest.raises(ValueError, match="duplicate"):
        render_page("t", [Part("p", "p", (section, section))])
    with pytest.raises(ValueError, match="PNG"):
        Figure(b"GIF89a", "not a png")
    with pytest.raises(ValueError, match="section key"):
        Section("has space", "t", ())


def test_final_metrics_say_whether_log_px_can_be_trusted() -> None:
    from vaelab.evaluation.trust import pareto_summary
    from vaelab.reports.summary import _trust_rows

    assert _trust_rows(None) == []  # an evaluation from before k̂ was reported
    (few,) = _trust_rows(pareto_summary(torch.full((3,), float("nan")), k=10))
    assert few[1] == "—" and "too few" in few[2]
    (row,) = _trust_rows(pareto_summary(torch.tensor([0.2, 0.5, 0.9, 1.1], dtype=torch.float64), k=1000))
    assert row[1] == "median 0.50, max 1.10; 50.0 % of examples above 0.7"
    assert "Warning: Pareto k̂ > 0.7 for 2 of 4 test images" in row[2]


def test_the_gaps_section_shows_a_flow_fitted_per_image(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.objectives.test_local_guide import ppca
    from vaelab.evaluation.gaps import inference_gaps
    from vaelab.reports import gaps as section

    model, x = ppca()
    plain = inference_gaps(model, x[:4], k=20, steps=2, progress=False)
    flowed = inference_gaps(model, x[:4], k=20, steps=2, flow="planar:2", progress=False)
    flowed["flow_approximation_gap"] = {"mean": -1.0, "stderr": 0.1, "n": 4}  # IS demonstrably low
    for gaps, rows in ((plain, 6), (flowed, 9)):
        monkeypatch.setattr(section, "newest_gaps", lambda run, gaps=gaps: gaps)
        found = section.inference_gaps(None)  # type: ignore[arg-type]
        table = found.blocks[0]
        assert len(table.rows) == rows
    labels = [row[0] for row in table.rows]
    assert "L[q*_flow]" in labels and "of which the flow recovers" in labels
    assert "planar:2 flow" in table.caption and "the IS estimate is too low" in table.caption
