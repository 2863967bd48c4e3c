"""The output formats: which files each writes, rendered from the findings document alone.

Renderers are imported when their format is asked for, so a run that writes no PDF never loads WeasyPrint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmaudit.core.errors import OutputError
from fmaudit.spec import OUTPUT_FORMATS

FILES: dict[str, tuple[str, ...]] = {
    "html": ("report.html",),
    "pdf": ("report.pdf",),
    "md": ("summary.md",),
    "junit": ("junit.xml",),
    "model-card": ("model-card/README.md", "model-card/model-card.json"),
}
TWIN_FORMATS = ("html", "pdf", "md")
"""What the non-private twin's own report gets: it has no gates and is not the model a card describes."""
PDF_ENGINES = ("weasyprint", "chromium")


def parse_formats(text: str) -> tuple[str, ...]:
    """``html,pdf`` (or ``all``) into known format names, in the given order."""
    names = list(OUTPUT_FORMATS) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [name for name in names if name not in OUTPUT_FORMATS]
    if unknown or not names:
        raise OutputError(
            f"--format: unknown format {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"expected a comma-separated list of: {', '.join(OUTPUT_FORMATS)}, or all"
        )
    return tuple(dict.fromkeys(names))


def formats_in(run_dir: Path) -> tuple[str, ...]:
    """The formats a run directory holds (each format's first file present), in the canonical order."""
    return tuple(name for name in OUTPUT_FORMATS if (run_dir / FILES[name][0]).is_file())


def render_format(
    name: str, document: dict[str, Any], *, formats: tuple[str, ...] = (), pdf_engine: str = "weasyprint"
) -> dict[str, bytes]:
    """The files of one format, by path relative to the run directory. ``formats`` is everything written
    alongside, so the summary links only to files that exist."""
    if name == "html":
        from fmaudit.report.html import render_html

        return {"report.html": render_html(document).encode("utf-8")}
    if name == "pdf":
        from fmaudit.report.pdf import render_pdf

        return {"report.pdf": render_pdf(document, engine=pdf_engine)}
    if name == "md":
        from fmaudit.report.markdown import render_markdown

        links = (*(FILES[f][0] for f in ("html", "pdf") if f in formats), "findings.json")
        return {"summary.md": render_markdown(document, links)}
    if name == "junit":
        from fmaudit.report.junit import render_junit

        return {"junit.xml": render_junit(document)}
    if name == "model-card":
        from fmaudit.report.model_card import render_model_card

        return render_model_card(document)
    raise OutputError(f"unknown output format {name!r}; expected one of: {', '.join(OUTPUT_FORMATS)}")
