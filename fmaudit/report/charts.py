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
        "colours": {"ink": INK, "frame": FRAME, "grid": GRID, "reference": FAIL},
    }


def _tick(value: float) -> str:
    """Whole numbers as integers, others to three significant figures."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


BAR = {"width": 760, "label_w": 300, "row_h": 22, "value_w": 190, "gap": 8}
"""Bar-chart layout: category labels on the left, bars in the middle, value labels in their own column on the
right, so no label is ever drawn over a bar, a whisker or the reference line."""
INK, FRAME, GRID, FAIL = "#1d2330", "#d9dee7", "#edf0f5", "#b3261e"
BAR_FILL = {"": PALETTE[0], "excluded": "#a9b2c3", "sensitive": PALETTE[1]}
"""Colours live in the SVG itself (not only in the page's stylesheet), so PDF engines that do not style inline
SVG from the page's CSS draw the same chart."""


def bar_chart_geometry(chart: dict[str, Any]) -> dict[str, Any]:
    """Pixel geometry of a BarChart: one row per bar, with its whisker (interval) and a value label.

    The value axis spans zero, every value, every interval bound and the reference line. Bars grow from the
    zero line (left for negative values). Value labels sit right of the plot area, past everything drawn.
    """
    bars = chart["bars"]
    row_h, label_w = BAR["row_h"], BAR["label_w"]
    lows = [b["ci_low"] for b in bars if b["ci_low"] is not None]
    highs = [b["ci_high"] for b in bars if b["ci_high"] is not None]
    values = [b["value"] for b in bars]
    reference = chart["reference"]
    bottom = min([0.0, *values, *lows])
    top = max([0.0, *values, *highs, *([reference] if reference is not None else [])])
    span = (top - bottom) or 1.0
    plot_w = BAR["width"] - label_w - BAR["value_w"] - BAR["gap"]

    def fx(v: float) -> float:
        return round(label_w + (v - bottom) / span * plot_w, 1)

    zero = fx(0.0)
    rows = []
    for i, bar in enumerate(bars):
        y = i * row_h + 4
        end = fx(bar["value"])
        whisker = None
        if bar["ci_low"] is not None and bar["ci_high"] is not None:
            whisker = {
                "x1": fx(bar["ci_low"]),
                "x2": fx(bar["ci_high"]),
                "y": y + row_h / 2 - 1,
                "cap_top": y + 6,
                "cap_bottom": y + row_h - 8,
            }
        rows.append(
            {
                "label": bar["label"],
                "text_y": y + 14,
                "rect": {"x": min(zero, end), "y": y + 2, "width": round(abs(end - zero), 1), "height": row_h - 6},
                "fill": BAR_FILL.get(bar["flag"], PALETTE[0]),
                "whisker": whisker,
                "value": bar["value"],
                "ci_low": bar["ci_low"] if whisker else None,
                "ci_high": bar["ci_high"] if whisker else None,
                "flag": bar["flag"],
            }
        )
    height = len(bars) * row_h + 10
    return {
        "width": BAR["width"],
        "height": height,
        "label_x": label_w - BAR["gap"],
        "value_x": label_w + plot_w + BAR["gap"],
        "plot_left": label_w,
        "plot_right": label_w + plot_w,
        "rows": rows,
        "zero_x": zero if bottom < 0 else None,
        "reference_x": fx(reference) if reference is not None else None,
        "rule_bottom": height - 4,
        "colours": {"ink": INK, "reference": FAIL},
    }
