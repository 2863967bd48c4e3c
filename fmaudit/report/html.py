"""The self-contained report.html: the document laid out by a Jinja template that computes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fmaudit.report.charts import bar_chart_geometry, line_chart_geometry
from fmaudit.report.reading import format_number, gate_outcomes, interval_text
from fmaudit.report.schema import FindingsDocument

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


def render_html(document: FindingsDocument, *, printing: bool = False) -> str:
    """report.html; ``printing`` opens the collapsed parts (every metric, the resolved spec) for the PDF."""
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
    env.filters["plot"] = line_chart_geometry
    env.filters["bars"] = bar_chart_geometry
    context: dict[str, Any] = {
        **document,
        "resolved_spec_yaml": yaml.safe_dump(document["resolved_spec"], sort_keys=False),
        "printing": printing,
        "gate_estimates": {  # per gate, the estimate and its interval as printed
            o.gate.text: (format_number(o.figure.value, 4), interval_text(o.figure, 4)) if o.figure else ("", "")
            for o in gate_outcomes(document)
        },
    }
    return env.get_template(TEMPLATE).render(**context)
