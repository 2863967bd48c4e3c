"""The printed report checked as paper: nothing may run past the page's right margin (it would be cut off)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any


def boxes(box: Any) -> Iterator[Any]:
    """A laid-out WeasyPrint box and every box inside it."""
    yield box
    for child in getattr(box, "children", []):
        yield from boxes(child)


def overflowing_pages(document: dict) -> list[int]:  # type: ignore[type-arg]
    """Pages of the WeasyPrint PDF on which a box reaches past the right margin (clipped on paper)."""
    from fmaudit.report.pdf import laid_out

    found = []
    for number, page in enumerate(laid_out(document).pages, 1):
        root = page._page_box  # WeasyPrint's laid-out page
        edge = root.margin_width() - root.margin_right
        if any(b.position_x + b.margin_width() > edge + 1 for b in boxes(root) if b is not root):
            found.append(number)
    return found


def broken_header_words(document: dict) -> list[str]:  # type: ignore[type-arg]
    """Header cells of the WeasyPrint PDF whose text wraps inside a word ("Templat" / "e"): a line may end only
    between words, after a field name's underscore or a path's dot, or at a hyphen the layout inserted."""
    from fmaudit.report.pdf import laid_out

    def text(box):  # type: ignore[no-untyped-def]
        return "".join(getattr(b, "text", "") for b in boxes(box)).replace("\u200b", "").replace("\u00ad", "")

    broken = []
    for page in laid_out(document).pages:
        for cell in boxes(page._page_box):
            if getattr(cell, "element_tag", "") != "th":
                continue
            words = text(cell).split()
            lines = [text(b).split() for b in boxes(cell) if type(b).__name__ == "LineBox"]
            for before, after in itertools.pairwise(lines):
                if not before or not after or (before[-1] in words and after[0] in words):
                    continue  # wrapped between words
                if not before[-1].endswith(("_", ".", "-", "\u2010")):
                    broken.append(f"{before[-1]}|{after[0]}")
    return broken
