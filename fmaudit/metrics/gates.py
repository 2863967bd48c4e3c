"""Gates: thresholds declared in the spec, checked as a pure function of the findings.

A gate reads ``"<metric path> <op> <number>"``. The path may end in ``.ci_low`` or
``.ci_high`` to gate on a confidence-interval bound instead of the point estimate
(``fairness.sex.demographic_parity_ratio.ci_low >= 0.8`` passes only when the lower bound clears it).
This module is the one grammar: the spec checks syntax with ``parse_gate``, the engine evaluates, and a
family that re-reads a gate under other conditions (behaviour's templates) parses it here too.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fmaudit.core.errors import SpecError
from fmaudit.core.findings import Metric

GATE_PATTERN = re.compile(
    r"^\s*(?P<path>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<op>>=|<=|==|>|<)\s*(?P<threshold>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$"
)
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
BOUNDS = ("ci_low", "ci_high")
MISSES = {">=": "below", ">": "not above", "<=": "above", "<": "not below", "==": "not equal to"}
"""How an observed value misses each operator's threshold, as a failing gate's reason says it."""
SYNTAX = f"'<metric path> <op> <number>' with op one of {' '.join(OPERATORS)}"


@dataclass(frozen=True)
class Gate:
    path: str
    op: str
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.path} {self.op} {self.threshold:g}"

    @property
    def metric_path(self) -> str:
        """The metric the gate reads, without a trailing ``.ci_low``/``.ci_high``."""
        head, _, tail = self.path.rpartition(".")
        return head if tail in BOUNDS else self.path

    @property
    def bound(self) -> str | None:
        tail = self.path.rpartition(".")[2]
        return tail if tail in BOUNDS else None

    def holds(self, observed: float) -> bool:
        """Whether ``observed`` clears this gate's threshold."""
        return OPERATORS[self.op](observed, self.threshold)


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    observed: float | None
    passed: bool
    reason: str = ""
    """Why the gate failed (what it read, against what), or why its figure is missing; empty when it passed."""
    caution: str = ""
    """What the verdict may not hold against, pass or fail (e.g. a spread over seeds wider than the interval)."""


def parse_gate(text: str) -> Gate:
    """``"<path> <op> <number>"`` as a Gate; anything else is a SpecError that shows the expected form."""
    match = GATE_PATTERN.match(text)
    if not match:
        raise SpecError(f"gate {text!r} is not of the form {SYNTAX}")
    return Gate(path=match["path"], op=match["op"], threshold=float(match["threshold"]))


def check_gate_paths(gates: Iterable[Gate], known: Iterable[str], *, where: str) -> None:
    """Every gate must name a metric some enabled plugin will produce."""
    known = sorted(set(known))
    problems = []
    for gate in gates:
        if gate.metric_path not in known:
            hint = _nearest(gate.metric_path, known)
            problems.append(f"{where}: gates: {gate.text!r} names unknown metric {gate.metric_path!r}; {hint}")
    if problems:
        raise SpecError(problems)


def _nearest(path: str, known: list[str]) -> str:
    """The closest known paths to a misspelt one: by spelling, else those under its longest known prefix."""
    near = difflib.get_close_matches(path, known, n=3, cutoff=0.8)
    if not near:  # a wrong last part ('fairness.sex.dp_ratio'): the figures beside it
        parts = path.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:depth]) + "."
            under = [p for p in known if p.startswith(prefix) and "." not in p[len(prefix) :]]
            if under:
                near = difflib.get_close_matches(path, under, n=3, cutoff=0.0)
                break
    if not near:
        return "run 'fmaudit plugins SPEC' to list the metric paths it produces"
    return f"did you mean: {', '.join(near)}"


def evaluate(gates: Iterable[Gate], metrics: dict[str, Metric]) -> list[GateResult]:
    """Check each gate; a missing or unmeasured figure fails its gate, never passes it."""
    results = []
    for gate in gates:
        metric = metrics.get(gate.metric_path)
        if metric is None:
            results.append(GateResult(gate, None, False, "metric was not produced"))
            continue
        observed = metric.value if gate.bound is None else getattr(metric, gate.bound)
        if observed is None:
            reason = metric.note or ("no interval was computed" if gate.bound else "not measured")
            results.append(GateResult(gate, None, False, reason))
            continue
        passed = gate.holds(observed)
        results.append(GateResult(gate, observed, passed, "" if passed else _miss(gate, metric, observed)))
    return results


def _miss(gate: Gate, metric: Metric, observed: float) -> str:
    """Why a measured figure failed: what was read (the bound, with the estimate and interval), the threshold."""
    if gate.bound is None:
        read = f"{metric.label} {observed:.4g}"
    else:
        end = "low" if gate.bound == "ci_low" else "high"
        estimate = f"{_number(metric.value)} [{_number(metric.ci_low)}, {_number(metric.ci_high)}]"
        read = f"{metric.label}: the interval's {end} end {observed:.4g} (estimate {estimate})"
    return f"{read} is {MISSES[gate.op]} {gate.threshold:g}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
