"""The self-contained report.html: the document laid out by a Jinja template that computes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fmaudit.report.charts import line_chart_geometry

TEMPLATE = "report.html.j2"


def template_dir() -> Path:
    """Templates ship inside the wheel as fmaudit/templates; in a checkout they live in ./templates."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(f"{TEMPLATE} not found beside the fmaudit package")


def render_html(document: dict[str, Any]) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _format_number
    env.filters["plot"] = line_chart_geometry
    document = {**document, "resolved_spec_yaml": yaml.safe_dump(document["resolved_spec"], sort_keys=False)}
    return env.get_template(TEMPLATE).render(**document)


def _format_number(value: Any, digits: int = 3) -> str:
    """Numbers for people: thousands separators for counts, fixed decimals otherwise (1.0 stays 1.000, a rate)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 2):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)
