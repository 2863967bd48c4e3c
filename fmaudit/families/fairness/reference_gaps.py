"""Findings for the gaps to the reference group: each compared group's signed differences and ratios
(a table, and the notes of their metrics), the selection-rate tests that form the multiple-testing
family, and the notes that say which groups every interval is about and how often it was undefined.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from fmaudit.core.findings import Estimate, Table, finite
from fmaudit.families.fairness.attribute import REFERENCE_RATES, AttributeAudit
from fmaudit.families.fairness.params import GROUP_FIGURES, REFERENCE_FIGURES
from fmaudit.families.fairness.significance import Comparison, adjust_family, compare
from fmaudit.metrics.parity import DISPARITIES

UNDEFINED_SHOWN = 0.01
"""Shares of resamples with an undefined figure above this are reported beside the interval."""
SIMULTANEOUS = (
    "simultaneous over every pair of compared groups (max-T bootstrap, Westfall & Young 1993), so as to cover "
    "the true extreme whichever pair it is"
)
"""What a summary disparity's interval is, wherever the report shows one."""


def undefined_note(share: float, *, pairs: bool = False) -> str:
    """What a reader must know when the interval rests on fewer resamples than drawn (with ``pairs``, on fewer
    pairs of groups in some resamples); "" when it is rare."""
    if not share > UNDEFINED_SHOWN:  # NaN (no bootstrap) included
        return ""
    if pairs:
        return (
            f"a pair was undefined in {share:.1%} of resamples (a group drawn without the rows it needs); there "
            "the largest deviation runs over the other pairs"
        )
    return f"undefined in {share:.1%} of resamples (a group drawn without the rows it needs); interval from the rest"


def figure_note(audit: AttributeAudit, group: str, figure: str, value: float | None) -> str:
    """Why a group figure is missing, what it is measured against, or how often it was undefined."""
    if group in audit.excluded:
        return audit.excluded[group]
    if figure in REFERENCE_FIGURES:
        if audit.reference is None or audit.reference in audit.excluded:
            return "no reference group to compare with" + _excluded_reference(audit)
        if group == audit.reference:
            return "reference group"
    if value is None:
        return "undefined for this group" + (" or zero in the reference group" if figure.endswith("ratio") else "")
    if figure == "impact_ratio" and not audit.reference_declared:
        text = (
            f"over {audit.impact_reference}, the most selected compared group on the full sample; the interval "
            "bounds the rate over the truly most selected group, from the intervals of every pair of groups "
            "that the demographic parity ratio's interval comes from"
        )
        extra = undefined_note(float(audit.undefined.loc[group, figure]), pairs=True)
        return f"{text}; {extra}" if extra else text
    return undefined_note(float(audit.undefined.loc[group, figure]))


def gap_table(audit: AttributeAudit, confidence: float) -> Table:
    """Each compared group against the reference group: signed gaps with intervals that can cross parity."""
    rows = []
    for group, row in audit.by_group.iterrows():
        if group in audit.excluded or group == audit.reference:
            continue
        cells: list[Any] = [str(group), int(row["count"])]
        cells += [
            Estimate(finite(row[f]), finite(audit.ci_low.loc[group, f]), finite(audit.ci_high.loc[group, f]))
            for f in REFERENCE_FIGURES
        ]
        shares = [float(audit.undefined.loc[group, f]) for f in REFERENCE_FIGURES]
        cells.append(undefined_note(max((s for s in shares if not math.isnan(s)), default=float("nan"))))
        rows.append(tuple(cells))
    reference = f"'{audit.reference}'" + (" (declared)" if audit.reference_declared else " (the largest group)")
    return Table(
        title=f"Gaps to the reference group by {audit.attribute} (reference: {audit.reference})",
        columns=(
            "Group",
            "Rows",
            *(f"{GROUP_FIGURES[r][0]} {k}" for r in REFERENCE_RATES for k in ("difference", "ratio")),
            "Note",
        ),
        rows=tuple(rows),
        note=f"Differences are the group's rate minus that of {reference}, ratios the group's rate over it: "
        f"signed, so 0 (1) is parity and a {confidence:.0%} interval that contains it shows no detectable gap. "
        "The reference is fixed before resampling." + _excluded_reference(audit),
    )


def disparity_note(audit: AttributeAudit, name: str) -> str:
    """Which pair of groups a summary disparity's estimate is between, what its interval holds over, and how
    often a pair was undefined."""
    pair = audit.pairs[name]
    if pair is None:
        return "fewer than two groups large enough to compare"
    names = audit.by_group.index
    kind = "minus" if name.endswith("difference") else "over"
    high, low = (names[pair.high], names[pair.low]) if kind == "minus" else (names[pair.low], names[pair.high])
    compared = len(names) - len(audit.excluded)
    pairs = compared * (compared - 1) // 2
    text = (
        f"estimate: {GROUP_FIGURES[pair.metric][0].lower()} of {high} {kind} {low}; interval: {SIMULTANEOUS} "
        f"({pairs} pair{'' if pairs == 1 else 's'} of {compared} compared groups"
        + (", TPR and FPR together" if len(DISPARITIES[name]) > 1 else "")
        + ")"
    )
    extra = undefined_note(audit.disparity_undefined[name], pairs=True)
    return f"{text}; {extra}" if extra else text


def comparisons(audits: list[AttributeAudit], *, method: Literal["holm", "bonferroni"]) -> list[Comparison]:
    """Selection-rate tests of every compared group against its attribute's reference, all attributes'
    tests adjusted as one family: the family the report names."""
    return adjust_family([compare(pair) for audit in audits for pair in audit.versus_reference()], method=method)


def family_note(audits: list[AttributeAudit], tests: list[Comparison], method: str) -> str:
    """The family the p-values are adjusted over, named before any data were looked at."""
    references = ", ".join(
        f"{a.attribute}: {a.reference}" + (" (declared)" if a.reference_declared else " (largest)")
        for a in audits
        if a.reference is not None and a.reference not in a.excluded
    )
    return (
        f"{method.capitalize()} correction over one family of {len(tests)} tests: every compared group against "
        f"the reference group of its attribute ({references or 'none'}), all attributes together."
    )


def _excluded_reference(audit: AttributeAudit) -> str:
    if audit.reference is not None and audit.reference in audit.excluded:
        return f" The declared reference '{audit.reference}' is excluded: {audit.excluded[audit.reference]}."
    return ""
