"""Reading figures back out of a findings document: metric paths, their intervals, and the gates on them.

Shared by the formats that list figures (JUnit, Markdown, model card) and by ``fmaudit diff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fmaudit.metrics.gates import Gate, parse_gate
from fmaudit.report.schema import FindingsDocument


@dataclass(frozen=True)
class Figure:
    """One metric of a findings document."""

    path: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    better: str
    label: str

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None


@dataclass(frozen=True)
class GateOutcome:
    """One gate of a findings document, with the figure it reads."""

    gate: Gate
    observed: float | None
    passed: bool
    reason: str
    figure: Figure | None
    caution: str = ""

    @property
    def notes(self) -> list[str]:
        """What a line already showing the observed value and threshold adds: why nothing could be read, and
        any caution."""
        return [self.reason] * (self.observed is None and bool(self.reason)) + [self.caution] * bool(self.caution)

    @property
    def plugin(self) -> str:
        return self.gate.path.split(".", 1)[0]


def figures(document: FindingsDocument) -> dict[str, Figure]:
    """Every metric by its dotted path, in document order."""
    found: dict[str, Figure] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, child in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(child, dict) and "value" in child and "better" in child:
                found[path] = Figure(
                    path, child["value"], child["ci_low"], child["ci_high"], child["better"], child["label"]
                )
            elif isinstance(child, dict):
                walk(child, path)

    walk(document["metrics"], "")
    return found


def gate_outcomes(document: FindingsDocument) -> list[GateOutcome]:
    """The document's gates, each parsed back into its metric path, bound and threshold."""
    known = figures(document)
    outcomes = []
    for entry in document["gates"]:
        gate = parse_gate(entry["gate"])
        outcomes.append(
            GateOutcome(
                gate,
                entry["observed"],
                entry["passed"],
                entry["reason"],
                known.get(gate.metric_path),
                entry.get("caution", ""),  # runs written before cautions existed have none
            )
        )
    return outcomes


def format_number(value: Any, digits: int = 3) -> str:
    """Numbers for people: thousands separators for counts, fixed decimals otherwise (1.0 stays 1.000, a rate)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 2):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def interval_text(figure: Figure | None, digits: int = 3) -> str:
    """``[low, high]`` or an empty string when the figure has no interval."""
    if figure is None or not figure.has_interval:
        return ""
    return f"[{format_number(figure.ci_low, digits)}, {format_number(figure.ci_high, digits)}]"
