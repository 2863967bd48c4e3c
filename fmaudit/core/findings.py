"""Findings: what plugins return, and the only thing gates and the report read.

A plugin's findings are plain frozen records: metrics addressed by dotted paths
(the same path in findings.json, in gates and in the report), plus tables,
bar series and token highlights for the report to lay out. Nothing here renders.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Estimate:
    """A table cell holding a point estimate with its confidence interval."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


Cell = str | int | float | bool | Estimate | None
Better = Literal["higher", "lower", "none"]
"""Which direction of a metric is favourable; "none" for descriptive figures."""


@dataclass(frozen=True)
class Metric:
    """One figure, addressed by its dotted path, e.g. ``fairness.sex.demographic_parity_ratio``.

    ``value`` is None when the figure could not be measured (the note says why);
    a gate on such a metric fails rather than passing silently.
    """

    path: str
    value: float | None
    label: str
    better: Better = "none"
    ci_low: float | None = None
    ci_high: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        # findings.json is strict JSON (no NaN or Infinity): a bad figure is named here, not when the report is written.
        for part in ("value", "ci_low", "ci_high"):
            number = getattr(self, part)
            if number is not None and not math.isfinite(number):
                raise ValueError(f"metric {self.path}: {part} must be finite or None; got {number}")


@dataclass(frozen=True)
class Table:
    """A table for the report; every cell is plain data."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""
    applicant_rows: bool = False
    """Each row is one applicant's own content (an example, a notice): withheld from redacted reports, where
    only the count and the "Row" column (as salted hashes) remain."""
    shown_rows: int | None = None
    """The report lays out only the first rows (None: all); findings.json keeps every row."""
    csv_name: str = ""
    """If set, every row is also written to this CSV file beside the report."""


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    flag: str = ""
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars of comparable quantities (e.g. selection rate per group)."""

    title: str
    bars: tuple[Bar, ...]
    unit: str = ""
    reference: float | None = None
    note: str = ""


@dataclass(frozen=True)
class LineChart:
    """Curves over a shared x axis (score as fields are deleted, ROC curves, a figure against epsilon).

    On a log axis, values below ``x_min`` are drawn at that floor (e.g. FPR = 0 on a log-FPR ROC curve).
    """

    title: str
    x_label: str
    y_label: str
    series: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...]
    """(name, xs, ys) per curve."""
    log_x: bool = False
    x_min: float | None = None
    x_max: float | None = None
    y_min: float | None = None
    y_max: float | None = None
    dashed: tuple[str, ...] = ()
    """Names of the series drawn dashed (references, baselines)."""
    diagonal: bool = False
    """Draw y = x (the chance line of a ROC curve)."""
    note: str = ""


Chart = BarChart | LineChart


@dataclass(frozen=True)
class Token:
    """A piece of text and its attribution, scaled to [-1, 1] within its example."""

    text: str
    weight: float


@dataclass(frozen=True)
class Highlight:
    """An example text with per-token attributions, for a highlighted rendering."""

    title: str
    tokens: tuple[Token, ...]


@dataclass(frozen=True)
class PluginFindings:
    """Everything one plugin reports."""

    plugin: str
    title: str
    summary: str
    metrics: tuple[Metric, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    highlights: tuple[Highlight, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class Findings:
    """All plugins' findings for one run, in the order they ran."""

    sections: tuple[PluginFindings, ...] = field(default_factory=tuple)

    def metrics(self) -> dict[str, Metric]:
        """Every metric by its dotted path."""
        return {metric.path: metric for section in self.sections for metric in section.metrics}

    def to_tree(self) -> dict[str, Any]:
        """Nested dict keyed by the parts of each metric path (findings.json's ``metrics``)."""
        tree: dict[str, Any] = {}
        for path, metric in self.metrics().items():
            node = tree
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = {
                "value": metric.value,
                "ci_low": metric.ci_low,
                "ci_high": metric.ci_high,
                "better": metric.better,
                "label": metric.label,
                **({"note": metric.note} if metric.note else {}),
            }
        return tree

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.to_tree(), "sections": [asdict(section) for section in self.sections]}


def finite(value: Any) -> float | None:
    """A number fit for a Metric or a table: None where it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def metric_key(name: str) -> str:
    """Make a group or recipe name usable as one part of a dotted metric path."""
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name.strip())
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    return cleaned.strip("_") or "_"
