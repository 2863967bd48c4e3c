"""The adverse-action notices as findings: their figures, every notice (findings.json and notices.csv; the
report lays out a few), how often each reason is given overall and per sensitive group, each reason field's
association with the sensitive attributes (the proxy flags), and a summary line.

Reasons by group is a fairness view of its own: if one group is mostly told "age of credit history" and
another "amount requested", the model treats them differently even where their denial rates agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fmaudit.core.findings import Bar, BarChart, Cell, Metric, Table
from fmaudit.families.explanations.params import NOTICE_FIGURES, ExplanationsParams
from fmaudit.families.explanations.proxies import proxy_flags
from fmaudit.families.explanations.reasons import reason_distribution, reason_text
from fmaudit.metrics.association import QUANTILE_BINS

if TYPE_CHECKING:
    from fmaudit.families.explanations.notices import Notice
    from fmaudit.metrics.association import Association
    from fmaudit.plugins.context import AuditContext

SHOWN_NOTICES = 8
"""Notices the report lays out; findings.json and notices.csv hold every one."""
NOTICES_CSV = "notices.csv"
TOP_REASONS = 3
"""Most frequent reasons shown per sensitive group."""


@dataclass(frozen=True)
class NoticeFindings:
    metrics: list[Metric]
    tables: list[Table]
    chart: BarChart | None
    summary: str


def notice_findings(
    context: AuditContext,
    params: ExplanationsParams,
    notices: Sequence[Notice],
    associations: Sequence[Association],
    fields: list[str],
) -> NoticeFindings:
    """Figures, tables, chart and summary of the run's notices; ``associations`` are the reason fields' with the
    sensitive attributes."""
    n = len(notices)
    adverse = int((context.predictions.decisions == 0).sum())
    checked = [notice.faithful for notice in notices if notice.faithful is not None]
    threshold = context.predictions.threshold
    reached = [nt.score + nt.reasons_rise >= threshold for nt in notices if nt.reasons_rise is not None]
    sets = [notice.reasons for notice in notices]
    values = {
        "adverse_decisions": float(adverse),
        "produced": float(n),
        "missing_reason_share": float(np.mean([not s.reasons for s in sets])) if n else None,
        "unfaithful_share": float(np.mean([not passed for passed in checked])) if checked else None,
        "unexplained_share": float(np.mean([not r for r in reached])) if reached else None,
        "mean_reasons": float(np.mean([len(s.reasons) for s in sets])) if n else None,
        "sensitive_flagged_share": float(np.mean([bool(s.sensitive) for s in sets])) if n else None,
        "proxy_reason_share": float(np.mean([bool(nt.proxies) for nt in notices])) if n and associations else None,
    }
    labels = {
        "adverse_decisions": ("Adverse decisions in the test split", "none"),
        "produced": ("Adverse-action notices produced", "none"),
        "missing_reason_share": ("Share of notices without any reason (no field pushes toward denial)", "lower"),
        "unfaithful_share": (
            "Share of notices with reasons that fail their check: replaced together they raise the score less than "
            "the next-best fields, or Shapley value sampling finds one not pushing toward denial",
            "lower",
        ),
        "unexplained_share": (
            "Share of notices with reasons that, replaced together, would still leave the decision adverse",
            "lower",
        ),
        "mean_reasons": ("Mean number of reasons per notice", "none"),
        "sensitive_flagged_share": ("Share of notices where a sensitive attribute would have been a reason", "lower"),
        "proxy_reason_share": (
            "Share of notices giving a reason that may be a proxy of a sensitive attribute (association above "
            f"{params.proxy_threshold:g})",
            "lower",
        ),
    }
    metrics = [
        Metric(
            f"explanations.notices.{f}",
            values[f],
            labels[f][0],
            labels[f][1],  # type: ignore[arg-type]
            note="" if values[f] is not None else "no notice, or none with a reason to check",
        )
        for f in NOTICE_FIGURES
    ]
    distribution = reason_distribution(sets, fields)
    tables = [
        _notice_table(context, params, notices, fields, adverse),
        Table(
            title=f"How often each reason is given ({n} notices)",
            columns=("Reason", "Field", "Notices", "Share of notices"),
            rows=tuple((reason_text(f, params.reasons), f, count, share) for f, count, share in distribution),
        ),
        *_group_tables(context, params, notices, fields),
        *_association_tables(context, params, associations, fields, distribution),
    ]
    chart = (
        BarChart(
            title=f"Reasons given, share of {n} adverse-action notices",
            bars=tuple(Bar(reason_text(f, params.reasons), share) for f, _, share in distribution),
            unit="share",
        )
        if distribution
        else None
    )
    flagged = ", ".join(sorted({fields[f] for s in sets for f in s.sensitive}))
    summary = _summary(params, values, distribution, flagged) + _proxy_summary(notices, values)
    return NoticeFindings(metrics, tables, chart, summary)


def _check(notice: Notice) -> str:
    return {None: "no reason", True: "passes", False: "FAILS"}[notice.faithful]


def _proxies(notice: Notice) -> str:
    """The notice's reasons that may be proxies, e.g. 'housing ~ age_group (0.31)'."""
    return ", ".join(f"{a.field} ~ {a.attribute} ({a.value:.2f})" for a in notice.proxies)


def _shapley_agreement(notice: Notice) -> str:
    """How many of the reasons Shapley value sampling finds pushing toward denial, e.g. '3 of 4'."""
    if not notice.reasons.reasons:
        return ""
    return f"{sum(value < 0 for value in notice.shapley)} of {len(notice.shapley)}"


def _notice_table(
    context: AuditContext, params: ExplanationsParams, notices: Sequence[Notice], fields: list[str], adverse: int
) -> Table:
    """Every notice; flagged, failing and proxy-giving ones first, so the few the report lays out are the ones
    to read."""
    ordered = sorted(notices, key=lambda n: (not n.reasons.sensitive, n.faithful is not False, not n.proxies, n.row))
    rows = []
    for notice in ordered:
        reasons = [reason_text(fields[f], params.reasons) for f in notice.reasons.reasons]
        rows.append(
            (
                notice.row,
                notice.score,
                *(reasons + [""] * (params.max_reasons - len(reasons))),
                notice.reasons_rise,
                notice.next_best_rise,
                _shapley_agreement(notice),
                _proxies(notice),
                _check(notice),
                ", ".join(fields[f] for f in notice.reasons.sensitive),
            )
        )
    scope = (
        "every adverse decision" if len(notices) == adverse else f"a seeded sample of the {adverse} adverse decisions"
    )
    return Table(
        title=f"Adverse-action notices: {len(notices)}, for {scope} (flagged and failing notices first)",
        columns=(
            "Row",
            "P(favourable)",
            *(f"Reason {i + 1}" for i in range(params.max_reasons)),
            "Score rise, reasons replaced",
            "Score rise, next-best fields replaced",
            "Reasons toward denial by Shapley sampling",
            "Reasons that may be proxies (association)",
            "Check",
            "Sensitive attribute that would have been a reason",
        ),
        rows=tuple(rows),
        note=f"The report shows the first {min(SHOWN_NOTICES, len(rows))}; findings.json and {NOTICES_CSV} hold "
        "all. Reasons: the fields whose replacement by the reference applicant's value raises P(favourable) most, "
        "one field at a time. Check: the reasons replaced together must raise the score, at least as much as the "
        "next-best fields by that ranking replaced together (as many as the reasons, among the non-sensitive "
        "fields that differ from the reference applicant), and Shapley value sampling on the same record "
        f"({params.notice_shapley_orders} seeded order{'s' * (params.notice_shapley_orders != 1)} of those fields) "
        "must find every reason pushing toward denial. Unmapped fields show their column name; add them to "
        "audits.explanations.reasons.",
        applicant_rows=True,
        shown_rows=SHOWN_NOTICES,
        csv_name=NOTICES_CSV,
    )


def _group_tables(
    context: AuditContext, params: ExplanationsParams, notices: Sequence[Notice], fields: list[str]
) -> list[Table]:
    """Per sensitive attribute: each group's notices, share without a reason, and most frequent reasons."""
    rows = np.array([notice.row for notice in notices], dtype=int)
    tables = []
    for attribute, groups in context.plan.attributes.items():
        if attribute not in context.data.sensitive.columns:
            continue
        labels = context.data.sensitive[attribute].iloc[rows].astype(str).to_numpy() if len(rows) else np.array([])
        table_rows: list[tuple[Cell, ...]] = []
        for group in groups:
            members = [notice for notice, label in zip(notices, labels, strict=True) if label == group]
            sets = [notice.reasons for notice in members]
            top = [
                f"{reason_text(f, params.reasons)} ({share:.0%})"
                for f, _, share in reason_distribution(sets, fields)[:TOP_REASONS]
            ]
            missing = float(np.mean([not s.reasons for s in sets])) if sets else None
            table_rows.append((group, len(members), missing, *(top + [""] * (TOP_REASONS - len(top)))))
        tables.append(
            Table(
                title=f"Principal reasons by {attribute}",
                columns=("Group", "Notices", "Share without a reason", "Most frequent reason", "Second", "Third"),
                rows=tuple(table_rows),
                note="Share of the group's notices giving each reason. Sensitive attributes are never reasons.",
            )
        )
    return tables


def _association_tables(
    context: AuditContext,
    params: ExplanationsParams,
    associations: Sequence[Association],
    fields: list[str],
    distribution: list[tuple[str, int, float]],
) -> list[Table]:
    """Each reason field's association with each sensitive attribute, strongest first, and its proxy flag."""
    if not associations:
        return []
    attributes = list(dict.fromkeys(a.attribute for a in associations))
    by_field: dict[str, dict[str, float]] = {}
    for a in associations:
        by_field.setdefault(a.field, {})[a.attribute] = a.value
    flags = {
        fields[f]: [a.attribute for a in found]
        for f, found in proxy_flags(associations, fields, threshold=params.proxy_threshold).items()
    }
    given = {f: count for f, count, _ in distribution}
    binned = sorted({a.field for a in associations if a.binned})
    ordered = sorted(by_field.items(), key=lambda item: (-max(item[1].values()), item[0]))
    return [
        Table(
            title=f"Association of each reason field with the sensitive attributes "
            f"(Cramér's V, {len(context.predictions.row_ids)} test rows)",
            columns=("Reason", "Field", *attributes, "Possible proxy of", "Notices giving it"),
            rows=tuple(
                (
                    reason_text(field, params.reasons),
                    field,
                    *(values[attribute] for attribute in attributes),
                    ", ".join(flags.get(field, [])),
                    given.get(field, 0),
                )
                for field, values in ordered
            ),
            note="Bias-corrected Cramér's V (Bergsma 2013) of each field with each declared sensitive attribute on "
            "the test split: 0 for independence, 1 when one determines the other. Numeric fields with more than "
            f"{QUANTILE_BINS} values are cut into {QUANTILE_BINS} quantile bins first"
            + (f" ({', '.join(binned)})" if binned else "")
            + f". A field above {params.proxy_threshold:g} is flagged as a possible proxy of the attribute "
            "(Yeom, Datta & Fredrikson 2018): a notice giving it as a reason may tell the applicant the attribute "
            "in other words.",
        )
    ]


def _proxy_summary(notices: Sequence[Notice], values: dict[str, float | None]) -> str:
    """The sentence on reasons that may be proxies (empty when no notice gives one)."""
    share = values["proxy_reason_share"]
    if not share:
        return ""
    named = sorted({(a.field, a.attribute, a.value) for notice in notices for a in notice.proxies})
    pairs = ", ".join(f"{field} ~ {attribute} (V = {value:.2f})" for field, attribute, value in named)
    return f"{share:.0%} of notices give a reason that may be a proxy of a sensitive attribute: {pairs}. "


def _summary(
    params: ExplanationsParams,
    values: dict[str, float | None],
    distribution: list[tuple[str, int, float]],
    flagged: str,
) -> str:
    produced, adverse = int(values["produced"] or 0), int(values["adverse_decisions"] or 0)
    unfaithful, missing, unexplained = (
        values["unfaithful_share"],
        values["missing_reason_share"],
        values["unexplained_share"],
    )
    text = (
        f"WARNING: a sensitive attribute ({flagged}) would have been a principal reason for "
        f"{values['sensitive_flagged_share']:.0%} of notices; it is never given as a reason, but the model relies "
        "on it. "
        if flagged
        else ""
    )
    text += f"Adverse-action notices for {produced} of {adverse} adverse decisions"
    if missing is not None:
        text += f" ({missing:.0%} without a reason"
        text += (
            f"; {1 - unfaithful:.0%} of those with reasons pass the check against the next-best fields and "
            "Shapley value sampling"
            if unfaithful is not None
            else ""
        )
        text += (
            f"; the reasons replaced together would reverse {1 - unexplained:.0%} of the denials)"
            if unexplained is not None
            else ")"
        )
    if distribution:
        top = distribution[0]
        text += f"; most frequent reason: '{reason_text(top[0], params.reasons)}' ({top[2]:.0%} of notices)"
    return text + ". "
