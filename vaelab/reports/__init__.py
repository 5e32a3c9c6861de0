"""Reports of finished runs: one self-contained HTML page, and TensorBoard summaries.

The only layer besides evaluation that uses matplotlib. A report is a list of sections, each a
function of a loaded run registered in `vaelab.reports.sections`; importing this package
registers the built-in ones. `write_sequence_report` (sequence runs: interventions and evidence)
loads on first use.
"""

from vaelab._lazy import lazy_exports

# the built-in sections register themselves on import
from vaelab.reports import (  # noqa: F401
    comparison,
    curves,
    estimator_comparison,
    gaps,
    hierarchy,
    latent_space,
    pictures,
    semisupervised,
    summary,
    traversals,
)
from vaelab.reports.blocks import Figure, Section, Table, Text
from vaelab.reports.context import RunContext, load_context
from vaelab.reports.latent import active_units, kl_per_dimension, pca_2d, posterior_means, unit_activity
from vaelab.reports.report import REPORT_HTML, render_report, write_report
from vaelab.reports.sections import (
    comparison_sections,
    register_comparison,
    register_section,
    run_sections,
    unregister,
)

__all__ = [
    "REPORT_HTML",
    "Figure",
    "RunContext",
    "Section",
    "Table",
    "Text",
    "active_units",
    "comparison_sections",
    "kl_per_dimension",
    "load_context",
    "pca_2d",
    "posterior_means",
    "register_comparison",
    "register_section",
    "render_report",
    "run_sections",
    "unit_activity",
    "unregister",
    "write_report",
    "write_sequence_report",
]

__getattr__, __dir__ = lazy_exports(__name__, {"write_sequence_report": "vaelab.reports.sequence_report"},
                                    globals())
