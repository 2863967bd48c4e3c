"""The output formats as a registry: each names the files it writes and renders them from the findings document
alone. Built-ins are listed here; a package adds a format through the ``fmaudit.formats`` entry-point group::

    [project.entry-points."fmaudit.formats"]
    csv-gates = "my_package.formats:CSV_GATES"   # an fmaudit.report.formats.OutputFormat

Renderers are imported when their format is written, so a run that writes no PDF never loads WeasyPrint.
``FMAUDIT_DISABLE_PLUGIN_AUTOLOAD=1`` ignores installed formats as it does installed plugins.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from fmaudit.core.errors import OutputError, PluginError
from fmaudit.report.schema import FindingsDocument

ENTRY_POINT_GROUP = "fmaudit.formats"
PDF_ENGINES = ("weasyprint", "chromium")


@dataclass(frozen=True)
class RenderOptions:
    """What a renderer may know besides the document: the formats written alongside it and the PDF engine."""

    formats: tuple[str, ...] = ()
    pdf_engine: str = "weasyprint"


Renderer = Callable[[FindingsDocument, RenderOptions], dict[str, bytes]]
"""The files of one format, by path relative to the run directory."""


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its name (``--format``, ``output.formats``), the files it writes, and its renderer."""

    name: str
    files: tuple[str, ...]
    """Paths relative to the run directory; the first one present tells that a run directory holds the format."""
    render: Renderer
    description: str
    for_twin: bool = False
    """Whether the non-private twin's own report gets it (it has no gates and no model card of its own)."""


def _html(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    from fmaudit.report.html import render_html

    return {"report.html": render_html(document).encode("utf-8")}


def _pdf(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    from fmaudit.report.pdf import render_pdf

    return {"report.pdf": render_pdf(document, engine=options.pdf_engine, profile="summary")}


def _pdf_full(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    from fmaudit.report.pdf import render_pdf

    return {"report-full.pdf": render_pdf(document, engine=options.pdf_engine, profile="full")}


def _markdown(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    from fmaudit.report.markdown import render_markdown

    links = (*(BUILTINS[f].files[0] for f in ("html", "pdf", "pdf-full") if f in options.formats), "findings.json")
    return {"summary.md": render_markdown(document, links)}


def _junit(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    from fmaudit.report.junit import render_junit

    return {"junit.xml": render_junit(document)}


def _model_card(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    from fmaudit.report.model_card import render_model_card

    return render_model_card(document)


BUILTINS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("html", ("report.html",), _html, "the self-contained HTML report", for_twin=True),
        OutputFormat(
            "pdf",
            ("report.pdf",),
            _pdf,
            "the summary printed: verdict, gates, each section's headline figures, the notice summary",
            for_twin=True,
        ),
        OutputFormat("pdf-full", ("report-full.pdf",), _pdf_full, "the whole report printed to PDF", for_twin=True),
        OutputFormat("md", ("summary.md",), _markdown, "verdict, gates and headline figures", for_twin=True),
        OutputFormat("junit", ("junit.xml",), _junit, "one JUnit test case per gate, for CI"),
        OutputFormat(
            "model-card",
            ("model-card/README.md", "model-card/model-card.json"),
            _model_card,
            "a Hugging Face model card and its JSON twin",
        ),
    )
}


def available_formats() -> dict[str, OutputFormat]:
    """Format name -> format, built-ins first, then installed entry points in the order they are found."""
    found = dict(BUILTINS)
    if os.environ.get("FMAUDIT_DISABLE_PLUGIN_AUTOLOAD"):
        return found
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {entry.name} = {entry.value}"
        if entry.name in found:
            raise PluginError(f"output format {entry.name!r} is registered twice ({where})")
        try:
            output_format = entry.load()
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"output format {entry.name!r}: cannot load {entry.value}: {exc}") from exc
        if not isinstance(output_format, OutputFormat) or output_format.name != entry.name:
            raise PluginError(
                f"output format {entry.name!r}: {entry.value} must be an fmaudit.report.formats.OutputFormat "
                f"named {entry.name!r}"
            )
        found[entry.name] = output_format
    return found


def unknown_formats(names: Sequence[str]) -> list[str]:
    """A problem line for each name no registered format has, with the nearest name when one is close."""
    known = available_formats()
    problems = []
    for name in names:
        if name not in known:
            near = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            problems.append(f"unknown format {name!r}; {hint}expected one of: {', '.join(known)}")
    return problems


def parse_formats(text: str) -> tuple[str, ...]:
    """``html,pdf`` (or ``all``) into known format names, in the given order."""
    known = available_formats()
    names = list(known) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise OutputError(f"--format: no format given; expected a comma-separated list of: {', '.join(known)}, or all")
    problems = unknown_formats(names)
    if problems:
        raise OutputError([f"--format: {problem}, or all" for problem in problems])
    return tuple(dict.fromkeys(names))


def formats_in(run_dir: Path) -> tuple[str, ...]:
    """The formats a run directory holds (each format's first file present), in registry order."""
    return tuple(name for name, f in available_formats().items() if (run_dir / f.files[0]).is_file())


def twin_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """Which of ``formats`` the non-private twin's own report gets."""
    known = available_formats()
    return tuple(name for name in formats if known[name].for_twin)


def render_format(name: str, document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    """The files of one format, by path relative to the run directory; a renderer may write only its own files."""
    known = available_formats()
    if name not in known:
        raise OutputError(unknown_formats([name]))
    output_format = known[name]
    files = output_format.render(document, options)
    stray = sorted(set(files) - set(output_format.files))
    if stray:
        raise PluginError(f"output format {name!r} wrote files it does not declare: {', '.join(stray)}")
    return files
