"""The printed report checked as paper: nothing may run past the page's right margin (it would be cut off)."""

from __future__ import annotations


def overflowing_pages(document: dict) -> list[int]:  # type: ignore[type-arg]
    """Pages of the WeasyPrint PDF on which a box reaches past the right margin (clipped on paper)."""
    from fmaudit.report.pdf import laid_out

    def boxes(box):  # type: ignore[no-untyped-def]
        yield box
        for child in getattr(box, "children", []):
            yield from boxes(child)

    found = []
    for number, page in enumerate(laid_out(document).pages, 1):
        root = page._page_box  # WeasyPrint's laid-out page
        edge = root.margin_width() - root.margin_right
        if any(b.position_x + b.margin_width() > edge + 1 for b in boxes(root) if b is not root):
            found.append(number)
    return found
