"""The fairness section's tables and chart: impact ratios, group figures, disparities, significance and
equivalence tests, selection rates by group. Layout data only; the figures come from ``attribute.audit_attribute``."""

from __future__ import annotations

from typing import Any

from fmaudit.core.findings import Bar, BarChart, Estimate, Table, finite
from fmaudit.families.fairness.attribute import AttributeAudit
from fmaudit.families.fairness.equivalence import Equivalence
from fmaudit.families.fairness.group_metrics import SCORE_BINNING
from fmaudit.families.fairness.params import DISPARITY_FIGURES, FOUR_FIFTHS, GROUP_FIGURES, FairnessParams
from fmaudit.families.fairness.reference_gaps import SIMULTANEOUS, undefined_note
from fmaudit.families.fairness.significance import Comparison


def impact_table(audit: AttributeAudit) -> Table:
    """The bias-audit table of NYC Local Law 144 (6 RCNY 5-301): category, applicants, rate, impact ratio."""
    rows = []
    for group, row in audit.by_group.iterrows():
        ratio = finite(row["impact_ratio"])
        flag = audit.excluded.get(str(group), "")
        if ratio is not None and ratio < FOUR_FIFTHS:
            flag = "below four-fifths"
        bounds = (finite(audit.ci_low.loc[group, "impact_ratio"]), finite(audit.ci_high.loc[group, "impact_ratio"]))
        rows.append((str(group), int(row["count"]), finite(row["selection_rate"]), Estimate(ratio, *bounds), flag))
    if audit.reference_declared:
        reference = f"'{audit.impact_reference}' (the declared reference group)"
        intervals = "Intervals: percentile bootstrap of the ratio to that fixed group."
    else:
        reference = f"'{audit.impact_reference}', the most selected compared category on the full sample"
        intervals = (
            "That category is picked on the full sample, so the intervals bound each category's rate over the "
            "truly most selected one, from the intervals of every pair of categories the demographic parity "
            "ratio's interval comes from; the most selected category's own interval can fall below 1."
        )
    return Table(
        title=f"Impact ratios by {audit.attribute}",
        columns=("Category", "Number of applicants", "Selection rate", "Impact ratio", "Flag"),
        rows=tuple(rows),
        note=f"Impact ratio = the category's selection rate / the selection rate of {reference}. {intervals} "
        "Excluded categories keep their counts (including 'unknown') but get no ratio.",
    )


def group_table(audit: AttributeAudit) -> Table:
    figures = ("base_rate", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "ece", "mean_score")
    rows = []
    for group, row in audit.by_group.iterrows():
        cells: list[Any] = [str(group), int(row["count"])]
        for figure in figures:
            cells.append(
                Estimate(
                    finite(row[figure]),
                    finite(audit.ci_low.loc[group, figure]),
                    finite(audit.ci_high.loc[group, figure]),
                )
            )
        rows.append(tuple(cells))
    return Table(
        title=f"Group metrics by {audit.attribute}",
        columns=(
            "Group",
            "Rows",
            "Base rate",
            "Selection rate",
            "Accuracy",
            "TPR",
            "FPR",
            "FNR",
            "Precision",
            "ECE",
            "Mean score",
        ),
        rows=tuple(rows),
        note=SCORE_BINNING,
    )


def disparity_table(audit: AttributeAudit, confidence: float) -> Table:
    names = audit.by_group.index
    rows = []
    for key, estimate in audit.disparities.items():
        pair = audit.pairs[key]
        between = f"{GROUP_FIGURES[pair.metric][0]}: {names[pair.high]} vs {names[pair.low]}" if pair else ""
        note = undefined_note(audit.disparity_undefined[key], pairs=True)
        rows.append((DISPARITY_FIGURES[key][0], estimate, between, note))
    return Table(
        title=f"Disparities by {audit.attribute}",
        columns=("Disparity", f"Value [{confidence:.0%} interval]", "Estimate between", "Note"),
        rows=tuple(rows),
        note="Values are fairlearn's between-groups disparities: the largest difference between compared groups, "
        f"the smallest ratio (1 is parity), between the two groups named. Each interval is {SIMULTANEOUS}: every "
        "pair's gap (log ratio for ratios; TPR and FPR together for equalized odds) ± c standard errors, c the "
        f"{confidence:.0%} quantile over resamples of the largest studentised deviation over the pairs, with one "
        "event and one non-event added to each group (Agresti & Caffo 2000). It reaches 0 (1) when every pair's "
        "interval does. Gaps to the reference group are in the table above.",
    )


def significance_table(tests: list[Comparison], params: FairnessParams) -> Table:
    rows = tuple(
        (
            t.attribute,
            t.group,
            t.reference,
            t.rate,
            t.reference_rate,
            t.test,
            t.p_value,
            t.p_adjusted,
            "yes" if t.p_adjusted < params.alpha else "no",
        )
        for t in tests
    )
    return Table(
        title="Are the selection-rate gaps to the reference group more than noise?",
        columns=(
            "Attribute",
            "Group",
            "Reference",
            "Selection rate",
            "Reference rate",
            "Test",
            "p",
            f"p ({params.correction})",
            "Significant",
        ),
        rows=rows,
        note=f"Fisher's exact test where an expected cell count is below 5, else a two-proportion z-test; "
        f"{params.correction} correction over one family of {len(tests)} comparisons (every compared group "
        f"against its attribute's reference group, all attributes); significance level {params.alpha:g}.",
    )


def equivalence_table(tests: list[Equivalence], params: FairnessParams) -> Table:
    """Each compared group's selection-rate ratio to its reference, tested for equivalence with the margin."""
    margin, alpha = params.parity_margin, params.alpha
    verdicts = {True: "yes", False: "no", None: "undefined"}
    rows = tuple(
        (
            t.attribute,
            t.group,
            t.reference,
            t.n,
            t.rate,
            t.reference_rate,
            finite(t.ratio),
            finite(t.p_value),
            verdicts[t.established],
        )
        for t in tests
    )
    return Table(
        title=f"Is selection parity established? Ratio to the reference within [{margin:g}, {1 / margin:.4g}]",
        columns=(
            "Attribute",
            "Group",
            "Reference",
            "Rows",
            "Selection rate",
            "Reference rate",
            "Ratio",
            "p (two one-sided tests)",
            "Established",
        ),
        rows=rows,
        note=f"Two one-sided Miettinen–Nurminen score tests (statsmodels tost_proportions_2indep, ratio, score) "
        f"that the group's selection rate over the reference's is above {margin:g} and below {1 / margin:.4g}, "
        f"each at {alpha:g}: parity is established when both reject, i.e. when the {1 - 2 * alpha:.0%} score "
        "interval of the ratio lies inside the margin. An attribute's parity (fairness.<attribute>."
        "parity_established) needs every group's: an intersection–union test (Berger 1982) that needs no "
        "multiplicity correction. 'no' means the data cannot show parity at this margin, not that a gap was "
        "found; small groups rarely can.",
    )


def selection_chart(audit: AttributeAudit, confidence: float) -> BarChart:
    table = audit.by_group
    compared = table.loc[[g for g in table.index if g not in audit.excluded], "selection_rate"]
    bars = tuple(
        Bar(
            label=f"{group} (n={int(row['count'])})",
            value=finite(row["selection_rate"]) or 0.0,
            flag="excluded" if group in audit.excluded else "",
            ci_low=finite(audit.ci_low.loc[group, "selection_rate"]),
            ci_high=finite(audit.ci_high.loc[group, "selection_rate"]),
        )
        for group, row in table.iterrows()
    )
    return BarChart(
        title=f"Selection rate by {audit.attribute}",
        bars=bars,
        reference=FOUR_FIFTHS * float(compared.max()) if len(compared) else None,
        note=f"Whiskers: {confidence:.0%} bootstrap interval. Dashed line: four-fifths of the highest compared rate.",
    )
