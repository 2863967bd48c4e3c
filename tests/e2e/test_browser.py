"""report.html as a reader sees it, in real headless Chromium (Debian's package): no console errors, no
network request at all, every section and chart drawn, nothing wider than the window, a printable length."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmaudit.report.pdf import chromium_binary
from fmaudit.report.write import OutputOptions
from tests.support.browser import assert_reads_well, check_page
from tests.support.synthetic_run import write_synthetic_run

pytestmark = pytest.mark.skipif(
    chromium_binary() is None, reason="Chromium is not installed (Debian: apt-get install chromium, or `make chromium`)"
)


def test_the_report_reads_well_at_1280_and_800_pixels_and_prints(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path, OutputOptions(("html",)))
    assert_reads_well(
        run / "report.html", ["verdict", "model", "dataset", "performance", "fairness", "provenance"], range(3, 9)
    )


def test_the_check_sees_blocked_requests_console_errors_and_overflow(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><h2 id="x">x</h2><img src="http://example.org/pixel.png">'
        '<div style="width: 3000px">wide</div><script>console.error("broken")</script></body></html>'
    )
    seen = check_page(page, widths=(800,))
    assert seen.blocked == ["http://example.org/pixel.png"]
    assert "broken" in seen.console_errors
    assert seen.layouts[800]["wide"] == ["div"] and seen.layouts[800]["charts"] == []
