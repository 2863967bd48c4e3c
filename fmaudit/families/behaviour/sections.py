"""The monotonicity and invariance parts of the behaviour findings: metrics with intervals per group,
summary and per-group tables, the worst cases, and shared helpers for the template part.
"""

from __future__ import annotations

from collections.abc import Iterable

from fmaudit.core.findings import Bar, BarChart, Better, Cell, Estimate, Metric, Table, metric_key
from fmaudit.families.behaviour.outcomes import Example, Outcome
from fmaudit.families.behaviour.params import BehaviourParams, Monotone

PREFIX = "behaviour"
MONO = f"{PREFIX}.monotonicity"
INV = f"{PREFIX}.invariance"
TPL = f"{PREFIX}.template_sensitivity"
REWRITES = {
    "equivalent_values": "a category value written another way, as declared in the spec",
    "case": "the whole text in capitals; every text value in title case",
    "number_format": "numbers with a thousands separator (1,169) and a decimal point (24.0)",
    "field_order": "the template's fields, with their words, in random other orders",
}


def group_path(prefix: str, attribute: str, group: str, figure: str) -> str:
    return f"{prefix}.groups.{attribute}.{metric_key(group)}.{figure}"


def estimate_metric(path: str, estimate: Estimate, label: str, better: Better = "lower", note: str = "") -> Metric:
    return Metric(
        path,
        estimate.value,
        label,
        better,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        note=note if estimate.value is None else "",
    )


def group_metrics(prefix: str, figure: str, result: Outcome, attributes: dict[str, list[str]]) -> list[Metric]:
    return [
        estimate_metric(
            group_path(prefix, a, g, figure),
            result.rate.get((a, g), Estimate(None)),
            f"{figure.replace('_', ' ').capitalize()} ({a} = {g})",
            note="no tested rows in this group",
        )
        for a, groups in attributes.items()
        for g in groups
    ]


def monotonicity_metrics(pooled: Outcome, fields: dict[str, Outcome], attributes: dict[str, list[str]]) -> list[Metric]:
    metrics = []
    for prefix, result, what in [
        (MONO, pooled, "all declared fields"),
        *((f"{MONO}.{f}", r, f) for f, r in fields.items()),
    ]:
        untested = "no sampled row could move this way (values outside the order or at its top)"
        metrics += [
            estimate_metric(
                f"{prefix}.violation_rate",
                result.overall,
                f"Favourable moves that lowered the score ({what})",
                note=untested,
            ),
            estimate_metric(
                f"{prefix}.adverse_flip_rate",
                result.adverse_flips,
                f"Favourably decided rows a favourable move turned adverse ({what})",
                note=untested + "; or no tested row was decided favourably",
            ),
            *group_metrics(prefix, "violation_rate", result, attributes),
        ]
    return metrics


def invariance_metrics(
    results: dict[str, Outcome], fields: dict[str, Outcome], attributes: dict[str, list[str]]
) -> list[Metric]:
    metrics = []
    for test, result in results.items():
        prefix = f"{INV}.{test}"
        untested = "no sampled row could be rewritten this way" + (
            " (the template's fields are not separated by '; ', ', ', '. ', ' | ' or new lines)"
            if test == "field_order"
            else ""
        )
        metrics += [
            estimate_metric(
                f"{prefix}.flip_rate", result.overall, f"Decisions flipped by {test.replace('_', ' ')}", note=untested
            ),
            estimate_metric(
                f"{prefix}.mean_abs_score_change",
                result.mean_abs_change,
                f"Mean |score change| under {test.replace('_', ' ')}",
                note=untested,
            ),
            *group_metrics(prefix, "flip_rate", result, attributes),
        ]
    metrics += [
        estimate_metric(
            f"{INV}.equivalent_values.fields.{f}.flip_rate",
            r.overall,
            f"Decisions flipped by rewriting {f}",
            note="no sampled row holds a value with declared equivalents",
        )
        for f, r in fields.items()
    ]
    return metrics


def expectation(claim: Monotone) -> str:
    if claim.order is not None:
        steps = ", ".join(str(int(s)) for s in claim.moves)
        return " < ".join(claim.order) + f" (moves of {steps} position{'s' if claim.moves != [1] else ''})"
    steps = ", ".join(f"{s:g}" for s in claim.moves)
    return f"{claim.direction}: moves of {steps}"


def monotonicity_tables(
    params: BehaviourParams, pooled: Outcome, fields: dict[str, Outcome], attributes: dict[str, list[str]]
) -> list[Table]:
    summary = [
        (f, expectation(params.monotonicity[f]), r.rows, r.pairs, r.events, r.overall, r.adverse_flips, r.mean_change)
        for f, r in fields.items()
    ]
    summary.append(
        (
            "all declared fields",
            "",
            pooled.rows,
            pooled.pairs,
            pooled.events,
            pooled.overall,
            pooled.adverse_flips,
            pooled.mean_change,
        )
    )
    return [
        Table(
            title="Monotonicity: favourable moves of each declared field",
            columns=(
                "Field",
                "Declared expectation",
                "Rows tested",
                "Moves",
                "Violations",
                "Violation rate",
                "Favourable turned adverse",
                "Mean score change",
            ),
            rows=tuple(summary),
            note=f"A violation: the score dropped by more than {params.tolerance:g} after a favourable move. Rows "
            "whose value lies outside the declared order, or already at its favourable end, are not tested for that "
            "field. 'Favourable turned adverse': among the moves of rows the model decided favourably, the share "
            "after which it decided adversely.",
        ),
        _by_group("Monotonicity violation rate by sensitive group", {**fields, "all fields": pooled}, attributes),
        _examples("Largest monotonicity violations", pooled.examples),
    ]


def invariance_tables(
    results: dict[str, Outcome], fields: dict[str, Outcome], attributes: dict[str, list[str]]
) -> list[Table]:
    rows = tuple(
        (t, REWRITES[t], r.rows, r.pairs, r.events, r.overall, r.mean_abs_change) for t, r in results.items()
    ) + tuple(
        (f"equivalent_values: {f}", "", r.rows, r.pairs, r.events, r.overall, r.mean_abs_change)
        for f, r in fields.items()
    )
    return [
        Table(
            title="Invariance: rewritings that must not change the decision",
            columns=("Test", "Rewriting", "Rows", "Rewritten copies", "Flips", "Flip rate", "Mean |score change|"),
            rows=rows,
            note="Only copies that differ from the original count (a number below 1,000 has no thousands to "
            "separate). Flip rate = copies whose decision differs from the original row's.",
        ),
        _by_group("Invariance flip rate by sensitive group", results, attributes),
        _examples(
            "Largest score changes under invariant rewritings", [e for r in results.values() for e in r.examples]
        ),
    ]


def _by_group(title: str, results: dict[str, Outcome], attributes: dict[str, list[str]]) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for a, groups in attributes.items():
        for g in groups:
            rows.append((a, g, *(r.rate.get((a, g), Estimate(None)) for r in results.values())))
    return Table(
        title=title,
        columns=("Attribute", "Group", *results),
        rows=tuple(rows),
        note="Intervals resample the sampled rows (each row with all its edited copies). Empty cells: no tested "
        "rows in the group. A test that fails one group more often than another is a fairness finding too.",
    )


def _examples(title: str, examples: Iterable[Example]) -> Table:
    return Table(
        title=title,
        columns=("Row", "Test", "Change", "Score before", "Score after", "Score change"),
        rows=tuple((e.row, e.test, e.change, e.before, e.after, e.after - e.before) for e in examples),
        applicant_rows=True,
    )


def bar_chart(title: str, results: dict[str, Outcome], *, unit: str, note: str) -> BarChart:
    bars = tuple(
        Bar(
            label=f"{name} (n={r.pairs})",
            value=r.overall.value or 0.0,
            ci_low=r.overall.ci_low,
            ci_high=r.overall.ci_high,
            flag="" if r.overall.value is not None else "excluded",
        )
        for name, r in results.items()
    )
    return BarChart(title=title, bars=bars, unit=unit, note=note)
