"""Benchmark: render time of every output format from one run's findings.json, and the PDF's size and pages.

    python bench/render_speed.py RUN_DIR [--repeat 3] [--pdf-engine weasyprint|chromium]

Each format is rendered ``--repeat`` times from the same document (nothing is written); the best time is
printed, as the other engineers' jobs on a shared machine only ever add to it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fmaudit.report.document import load_document
from fmaudit.report.formats import PDF_ENGINES, RenderOptions, available_formats, render_format


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pdf-engine", default="weasyprint", choices=PDF_ENGINES)
    args = parser.parse_args()
    document = load_document(args.run_dir)
    formats = tuple(available_formats())
    options = RenderOptions(formats, args.pdf_engine)
    for name in formats:
        times, files = [], {}
        for _ in range(args.repeat):
            started = time.perf_counter()
            files = render_format(name, document, options)
            times.append(time.perf_counter() - started)
        sizes = ", ".join(f"{path} {len(content) / 1024:.0f} KiB" for path, content in files.items())
        print(f"{name:<11} best {min(times):6.2f} s of {args.repeat}  ({sizes})")
        if name == "pdf" and args.pdf_engine == "weasyprint":
            from fmaudit.report.pdf import laid_out

            print(f"{'':<11} {len(laid_out(document).pages)} A4 pages")


if __name__ == "__main__":
    main()
