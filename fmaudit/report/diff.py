"""``fmaudit diff``: two runs compared figure by figure, from their findings documents: two runs of one spec
(before and after a change), or two candidate models (two specs), aligned on the figures they share.

A change is *real* when the two 95% intervals do not overlap; a figure without an interval on either side
is compared against a stated absolute tolerance instead. Direction follows each metric's own ``better``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from fmaudit.report.reading import Figure, figures, format_number, gate_outcomes, interval_text
from fmaudit.report.schema import FindingsDocument

Direction = Literal["better", "worse", "changed", "same", "unmeasured"]


@dataclass(frozen=True)
class Change:
    """One metric path present in both runs."""

    path: str
    label: str
    a: Figure
    b: Figure
    delta: float | None
    real: bool
    basis: Literal["intervals", "tolerance", "unmeasured"]
    direction: Direction
    gated: bool


@dataclass(frozen=True)
class GateFlip:
    gate: str
    passed_a: bool
    passed_b: bool


@dataclass(frozen=True)
class RunDiff:
    name: str
    run_a: str
    run_b: str
    tolerance: float
    changes: tuple[Change, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    flipped_gates: tuple[GateFlip, ...]

    @property
    def real_changes(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.real)

    @property
    def regressions(self) -> tuple[Change, ...]:
        """Gated figures that got worse beyond their intervals (or the tolerance): what fails a release."""
        return tuple(c for c in self.changes if c.gated and c.real and c.direction == "worse")


def compare_runs(a: FindingsDocument, b: FindingsDocument, *, tolerance: float = 0.01) -> RunDiff:
    """Compare run ``b`` (the candidate) against run ``a`` (the baseline), of one spec or of two: figures and
    gates present in both are compared, and what each run has alone is listed (``added``, ``removed``)."""
    figures_a, figures_b = figures(a), figures(b)
    gated = {outcome.gate.metric_path for document in (a, b) for outcome in gate_outcomes(document)}
    changes = tuple(
        _change(figures_a[path], figures_b[path], tolerance, path in gated) for path in figures_a if path in figures_b
    )
    passed_a = {o.gate.text: o.passed for o in gate_outcomes(a)}
    flips = tuple(
        GateFlip(o.gate.text, passed_a[o.gate.text], o.passed)
        for o in gate_outcomes(b)
        if o.gate.text in passed_a and passed_a[o.gate.text] != o.passed
    )
    return RunDiff(
        name=a["name"] if a["name"] == b["name"] else f"{a['name']} vs {b['name']}",
        run_a=f"{a['provenance']['run_id']} ({a['role']})",
        run_b=f"{b['provenance']['run_id']} ({b['role']})",
        tolerance=tolerance,
        changes=changes,
        added=tuple(path for path in figures_b if path not in figures_a),
        removed=tuple(path for path in figures_a if path not in figures_b),
        flipped_gates=flips,
    )


def _change(a: Figure, b: Figure, tolerance: float, gated: bool) -> Change:
    if a.value is None or b.value is None:
        real = (a.value is None) != (b.value is None)
        return Change(a.path, b.label, a, b, None, real, "unmeasured", "unmeasured", gated)
    delta = b.value - a.value
    if a.has_interval and b.has_interval:
        assert a.ci_low is not None and a.ci_high is not None and b.ci_low is not None and b.ci_high is not None
        real, basis = (a.ci_high < b.ci_low or b.ci_high < a.ci_low), "intervals"
    else:
        real, basis = abs(delta) > tolerance, "tolerance"
    if delta == 0:
        direction: Direction = "same"
    elif b.better == "none":
        direction = "changed"
    else:
        direction = "better" if (delta > 0) == (b.better == "higher") else "worse"
    return Change(a.path, b.label, a, b, delta, real, basis, direction, gated)  # type: ignore[arg-type]


def _shown(diff: RunDiff, everything: bool) -> list[Change]:
    return [c for c in diff.changes if everything or c.real or c.gated]


def _cells(change: Change) -> tuple[str, str, str, str, str]:
    def side(f: Figure) -> str:
        interval = interval_text(f)
        return format_number(f.value, 4) + (f" {interval}" if interval else "")

    delta = "n/a" if change.delta is None else f"{change.delta:+.4g}"
    verdict = f"{'REAL ' if change.real else ''}{change.direction}" + (" (gated)" if change.gated else "")
    return change.path, side(change.a), side(change.b), delta, verdict


def _rule(diff: RunDiff) -> str:
    return (
        f"A = {diff.run_a}, B = {diff.run_b}. Real change: the 95% intervals do not overlap, or |change| > "
        f"{diff.tolerance:g} for figures without intervals. {len(diff.real_changes)} real changes of "
        f"{len(diff.changes)} shared figures; {len(diff.regressions)} gated regressions."
    )


def _lists(diff: RunDiff) -> list[tuple[str, list[str]]]:
    return [
        ("Gates that flipped", [f"{f.gate}: {_pass(f.passed_a)} → {_pass(f.passed_b)}" for f in diff.flipped_gates]),
        ("Only in B (added)", list(diff.added)),
        ("Only in A (removed)", list(diff.removed)),
    ]


def _pass(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def diff_table(diff: RunDiff, *, everything: bool = False) -> str:
    """A plain-text table for the terminal: real changes and gated figures (all with ``everything``)."""
    rows = [("metric path", "A", "B", "change", "verdict"), *map(_cells, _shown(diff, everything))]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"diff of {diff.name}: " + _rule(diff), ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    for title, items in _lists(diff):
        lines += ["", f"{title}: {len(items)}", *(f"  {item}" for item in items)]
    return "\n".join(lines)


def diff_markdown(diff: RunDiff, *, everything: bool = False) -> str:
    lines = [
        f"## fmaudit diff: {diff.name}",
        "",
        _rule(diff),
        "",
        "| Metric path | A | B | Change | Verdict |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    lines += [
        "| " + " | ".join((f"`{p}`", a, b, d, v)) + " |" for p, a, b, d, v in map(_cells, _shown(diff, everything))
    ]
    for title, items in _lists(diff):
        lines += ["", f"**{title}** ({len(items)})", *(f"- `{item}`" for item in items)]
    return "\n".join(lines) + "\n"


def diff_json(diff: RunDiff) -> str:
    """Everything, machine-readable (every shared figure, unchanged ones too)."""
    payload = asdict(diff)
    payload["regressions"] = [change.path for change in diff.regressions]
    return json.dumps(payload, indent=2)
