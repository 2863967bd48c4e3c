"""Chart geometry for the report's inline SVG: every pixel position is computed here, in Python, so the
template only lays out what it is given and tests can check what a reader will see.
"""

from __future__ import annotations

import math
from typing import Any

PLOT = {"width": 760, "height": 300, "left": 56, "right": 230, "top": 12, "bottom": 44}
PALETTE = ("#3c6fd1", "#c2185b", "#1c7c45", "#e07b00", "#6a4fb3", "#00838f", "#8d6e63")


def line_chart_geometry(chart: dict[str, Any]) -> dict[str, Any]:
    """Pixel geometry of a LineChart (polylines, ticks, legend) for the template's inline SVG.

    Layout only: values are mapped to the plot area and clamped to the axis range (so FPR = 0 sits at the
    left edge of a log axis), never changed. A few distinct x values are each labelled; otherwise the axis
    gets evenly spaced ticks (powers of ten on a log axis).
    """
    series = [(name, list(xs), list(ys)) for name, xs, ys in chart["series"]]
    xs_all = [x for _, xs, _ in series for x in xs]
    ys_all = [y for _, _, ys in series for y in ys]
    log = chart["log_x"]
    positive = [x for x in xs_all if x > 0]
    x_lo = chart["x_min"] if chart["x_min"] is not None else min(positive if log else xs_all, default=0.1 if log else 0)
    x_hi = chart["x_max"] if chart["x_max"] is not None else max(xs_all, default=1.0)
    y_lo = chart["y_min"] if chart["y_min"] is not None else min(ys_all, default=0.0)
    y_hi = chart["y_max"] if chart["y_max"] is not None else max(ys_all, default=1.0)
    if x_hi <= x_lo:
        x_lo, x_hi = (x_lo / 2, x_hi * 2) if log else (x_lo - 0.5, x_hi + 0.5)
    if y_hi <= y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    w = PLOT["width"] - PLOT["left"] - PLOT["right"]
    h = PLOT["height"] - PLOT["top"] - PLOT["bottom"]

    def fx(x: float) -> float:
        x = min(max(x, x_lo), x_hi)
        if log:
            share = (math.log10(x) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo))
        else:
            share = (x - x_lo) / (x_hi - x_lo)
        return round(PLOT["left"] + share * w, 1)

    def fy(y: float) -> float:
        y = min(max(y, y_lo), y_hi)
        return round(PLOT["top"] + (1 - (y - y_lo) / (y_hi - y_lo)) * h, 1)

    distinct = sorted(set(xs_all))
    if len(distinct) <= 12 and not log:
        x_ticks = distinct
    elif log:  # powers of ten, and the ends of the axis when they are not near one
        powers = range(math.ceil(math.log10(x_lo) - 1e-9), math.floor(math.log10(x_hi) + 1e-9) + 1)
        x_ticks = [10.0**k for k in powers]
        x_ticks += [end for end in (x_lo, x_hi) if all(abs(math.log10(end / t)) > 0.3 for t in x_ticks)]
    else:
        x_ticks = [x_lo + i * (x_hi - x_lo) / 4 for i in range(5)]
    y_ticks = [y_lo + i * (y_hi - y_lo) / 4 for i in range(5)]
    dashed = set(chart["dashed"])
    lines = [
        {
            "label": name,
            "dashed": name in dashed,
            "colour": PALETTE[i % len(PALETTE)],
            "points": " ".join(f"{fx(x)},{fy(y)}" for x, y in zip(xs, ys, strict=True)),
            "marks": [(fx(x), fy(y)) for x, y in zip(xs, ys, strict=True)] if len(xs) <= 20 else [],
        }
        for i, (name, xs, ys) in enumerate(series)
    ]
    diagonal = ""
    if chart["diagonal"]:
        grid = [x_lo * (x_hi / x_lo) ** (i / 40) for i in range(41)] if log else [x_lo, x_hi]
        diagonal = " ".join(f"{fx(x)},{fy(x)}" for x in grid if y_lo <= x <= y_hi)
    return {
        **PLOT,
        "x_axis": [(fx(t), _tick(t)) for t in x_ticks],
        "y_axis": [(fy(t), _tick(t)) for t in y_ticks],
        "lines": lines,
        "diagonal": diagonal,
        "plot_right": PLOT["width"] - PLOT["right"],
        "plot_bottom": PLOT["height"] - PLOT["bottom"],
    }


def _tick(value: float) -> str:
    """Whole numbers as integers, others to three significant figures."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"
