"""The self-contained report.html: the document laid out by a Jinja template that computes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml

from fmaudit.report.charts import bar_chart_geometry, line_chart_geometry
from fmaudit.report.reading import format_number, gate_outcomes, interval_text
from fmaudit.report.schema import FindingsDocument, MetricEntry, SectionEntry

TEMPLATE = "report.html.j2"


def template_dir() -> Path:
    """Templates ship inside the wheel as fmaudit/templates; in a checkout they live in ./templates."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(f"{TEMPLATE} not found beside the fmaudit package")


def breakable(text: object) -> str:
    """Text that may wrap after each underscore and dot (field names, metric paths in table headers)."""
    return str(text).replace("_", "_\u200b").replace(".", ".\u200b")


Profile = Literal["full", "summary"]
SUMMARY_TABLES = ("How often each reason is given",)
BREAKDOWNS = (".groups.", ".baselines.", ".mitigation.")
"""Metric path parts of breakdowns the summary profile leaves to the full report."""
"""Tables the summary profile keeps besides the headline figures (by title prefix): the notice summary."""


def render_html(document: FindingsDocument, *, printing: bool = False, profile: Profile = "full") -> str:
    """report.html; ``printing`` opens the collapsed parts (every metric, the resolved spec) for the PDF.
    ``profile: summary`` keeps the verdict, the gates, each section's summary and headline figures and the
    notice summary (the short PDF a reviewer reads first); every table stays in the full profile."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["breakable"] = breakable
    env.filters["numeric_columns"] = numeric_columns
    env.filters["plot"] = line_chart_geometry
    env.filters["bars"] = bar_chart_geometry
    context: dict[str, Any] = {
        **document,
        "resolved_spec_yaml": yaml.safe_dump(document["resolved_spec"], sort_keys=False),
        "printing": printing,
        "summary_profile": profile == "summary",
        "summary_figures": {section["plugin"]: summary_figures(document, section) for section in document["sections"]},
        "summary_tables": [
            table["title"]
            for section in document["sections"]
            for table in section["tables"]
            if table["title"].startswith(SUMMARY_TABLES)
        ],
        "gate_estimates": {  # per gate, the estimate and its interval as printed
            o.gate.text: (format_number(o.figure.value, 4), interval_text(o.figure, 4)) if o.figure else ("", "")
            for o in gate_outcomes(document)
        },
    }
    return env.get_template(TEMPLATE).render(**context)


def numeric_columns(table: dict[str, Any]) -> set[int]:
    """Columns whose every filled cell is a number (or a figure with an interval): their headers align right,
    over the numbers."""
    rows = table.get("rows") or []
    return {
        i
        for i in range(len(table.get("columns") or []))
        if any(_filled(row, i) for row in rows)
        and all(isinstance(row[i], int | float | dict) for row in rows if _filled(row, i))
    }


def _filled(row: list[Any], i: int) -> bool:
    return i < len(row) and row[i] not in (None, "")


def summary_figures(document: FindingsDocument, section: SectionEntry) -> list[MetricEntry]:
    """A section's headline figures, in its order: every figure a gate reads, and the family's own figures down to
    three levels (``fairness.sex.demographic_parity_ratio``, ``behaviour.invariance.case.flip_rate``) but not
    the per-group breakdowns or the baselines' figures, which the full report tables."""
    gated = {outcome.figure.path for outcome in gate_outcomes(document) if outcome.figure is not None}
    return [
        m
        for m in section["metrics"]
        if m["path"] in gated or (m["path"].count(".") <= 3 and not any(p in m["path"] for p in BREAKDOWNS))
    ]
