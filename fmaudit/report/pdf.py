"""report.pdf: the HTML report printed, by WeasyPrint (default, pure Python) or headless Chromium.

Both engines print the same HTML (its print stylesheet: A4, a page break before each section, page numbers,
the verdict on page 1) and fetch nothing: WeasyPrint gets a URL fetcher that refuses every URL, Chromium
runs with every host unresolvable. WeasyPrint's output is byte-for-byte reproducible; Chromium stamps a
creation date into its PDFs, so its re-renders differ in that field.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from fmaudit.core.errors import OutputError
from fmaudit.report.html import Profile, render_html
from fmaudit.report.schema import FindingsDocument

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def render_pdf(document: FindingsDocument, *, engine: str = "weasyprint", profile: Profile = "full") -> bytes:
    """The report printed: the ``full`` profile (every table) or the ``summary`` one (see ``render_html``)."""
    if engine == "chromium":
        return chromium_pdf(render_html(document, printing=True, profile=profile))
    if engine != "weasyprint":
        raise OutputError(f"unknown PDF engine {engine!r}; expected weasyprint or chromium")
    return bytes(laid_out(document, profile=profile).write_pdf())


def laid_out(document: FindingsDocument, *, profile: Profile = "full") -> Any:
    """The printed report as WeasyPrint lays it out (its pages), before it is written as PDF."""
    import logging

    import weasyprint

    # WeasyPrint logs each screen-only CSS property it ignores (overflow-x, ...): not the reader's concern.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    html = render_html(document, printing=True, profile=profile)
    return weasyprint.HTML(string=html, url_fetcher=_no_fetch).render()


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"the report fetches nothing; refused {url}")


def chromium_binary() -> str | None:
    """The installed Chromium (Debian's package is 'chromium'), or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def chromium_pdf(html: str) -> bytes:
    binary = chromium_binary()
    if binary is None:
        raise OutputError("--pdf-engine chromium: no chromium on PATH (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="fmaudit-pdf-") as tmp:
        page, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            page.as_uri(),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if completed.returncode != 0 or not pdf.is_file():
            raise OutputError(f"chromium could not print the report: {completed.stderr.strip()[-500:]}")
        return pdf.read_bytes()
