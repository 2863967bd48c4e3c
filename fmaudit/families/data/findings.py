"""The data section: every check's figures as metrics, one table per check, the list of findings (what needs an
explanation before the model's figures are trusted) and their count, ``data.findings``."""

from __future__ import annotations

from dataclasses import dataclass

from fmaudit.core.findings import Cell, Estimate, Metric, PluginFindings, Table, metric_key
from fmaudit.families.data.audited import AuditedData
from fmaudit.families.data.completeness import (
    GroupMissing,
    concentrated,
    group_missing,
    missing_shares,
    out_of_range,
)
from fmaudit.families.data.duplicates import duplicates
from fmaudit.families.data.leakage import ColumnAuc, column_aucs
from fmaudit.families.data.params import DataParams
from fmaudit.families.data.representation import (
    Proportion,
    Share,
    base_rates,
    shares,
    small_groups,
    smallest_compared,
)
from fmaudit.families.data.shift import ColumnShift, column_shifts
from fmaudit.plugins.context import AuditPlan

SHOWN_PAIRS = 20


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    detail: str


def data_findings(
    audited: AuditedData, plan: AuditPlan, params: DataParams, *, plugin: str, title: str
) -> PluginFindings:
    """Run every check on ``audited`` and assemble the section."""
    level = params.confidence
    attributes = plan.attributes
    found_shares = shares(audited, attributes, params)
    small = small_groups(found_shares, params)
    rates = base_rates(audited, attributes, level=level)
    missing = missing_shares(audited, level=level)
    gaps = group_missing(audited, [a for a in attributes if a not in plan.intersections], params)
    ranges = out_of_range(audited, params.ranges)
    concentrations = concentrated(audited, near_constant=params.near_constant)
    dupes = duplicates(audited)
    aucs = column_aucs(audited.frame, audited.labels, folds=params.folds, seed=params.seed)
    leaks = [a for a in aucs if a.roc_auc is not None and a.roc_auc >= params.leak_roc_auc]
    shifts = column_shifts(audited.frame, audited.train, audited.test, params)
    shifted = [s for s in shifts if s.shifted]

    listed: list[Finding] = []
    listed += [
        Finding("representation", f"{s.attribute}: {s.group} ({s.split})", _representation_detail(s))
        for s in found_shares
        if s.verdict
    ]
    minimum = smallest_compared(len(audited.test), params)
    listed += [
        Finding(
            "group size", f"{s.attribute}: {s.group}", f"{s.share.events} test rows < {minimum}: no fairness figure"
        )
        for s in small
    ]
    listed += [
        Finding("missing by group", f"{g.column} by {g.attribute}", _missing_detail(g)) for g in gaps if g.flagged
    ]
    listed += [Finding("range", r.column, f"{r.rows} values outside [{r.low:g}, {r.high:g}]") for r in ranges if r.rows]
    listed += [
        Finding("constant" if c.distinct == 1 else "near-constant", c.column, f"{c.value!r} in {c.share:.1%} of rows")
        for c in concentrations
    ]
    for what, count in (
        ("exact duplicates", dupes.exact),
        ("near duplicates", dupes.near),
        ("test rows repeating a training row", len(dupes.across_split)),
        ("test inputs equal to a training input", dupes.input_across_split),
    ):
        if count:
            listed.append(Finding("duplicates", what, f"{count} rows"))
    listed += [Finding("leakage", a.column, f"cross-validated ROC AUC {a.roc_auc:.3f} alone") for a in leaks]
    listed += [
        Finding("split shift", s.column, f"stability index {s.drift.value:.3f} [{s.low:.3f}, {s.high:.3f}]")
        for s in shifted
    ]

    metrics = [
        Metric("data.findings", float(len(listed)), "Data findings (each listed in the findings table)", "lower")
    ]
    metrics += [
        Metric(
            "data.representation.flagged",
            float(sum(bool(s.verdict) for s in found_shares)),
            f"Group shares outside the population's by more than {params.tolerance:g} (whole interval)",
            "lower",
        ),
        Metric(
            "data.representation.small_groups", float(len(small)), "Groups too small for the fairness figures", "lower"
        ),
    ]
    metrics += [m for s in found_shares for m in _share_metrics(s)]
    metrics += [
        _proportion_metric(f"data.labels.{attribute}.{metric_key(group)}.base_rate", rate, "Favourable-label rate")
        for attribute, by_group in rates.items()
        for group, rate in by_group.items()
    ]
    cells = audited.frame.size
    metrics += [
        Metric(
            "data.missing.share",
            sum(p.events for p in missing.values()) / cells if cells else 0.0,
            "Share of missing cells",
            "lower",
        ),
        Metric(
            "data.missing.columns",
            float(sum(p.events > 0 for p in missing.values())),
            "Columns with missing values",
            "lower",
        ),
        Metric(
            "data.missing.group_gaps",
            float(sum(g.flagged for g in gaps)),
            "Columns missing more often for some groups (significant after Holm, gap at least missing_gap)",
            "lower",
        ),
        Metric(
            "data.ranges.out_of_range",
            float(sum(r.rows for r in ranges)),
            "Values outside the declared ranges",
            "lower",
        ),
    ]
    metrics += [
        Metric(
            f"data.ranges.{metric_key(r.column)}.out_of_range",
            float(r.rows),
            f"Values of {r.column} outside range",
            "lower",
        )
        for r in ranges
    ]
    metrics += [
        Metric(
            "data.columns.constant", float(sum(c.distinct == 1 for c in concentrations)), "Constant columns", "lower"
        ),
        Metric(
            "data.columns.near_constant",
            float(sum(c.distinct > 1 for c in concentrations)),
            f"Near-constant columns (one value in at least {params.near_constant:.0%} of rows)",
            "lower",
        ),
        Metric("data.duplicates.exact", float(dupes.exact), "Rows repeating an earlier row exactly", "lower"),
        Metric(
            "data.duplicates.near",
            float(dupes.near),
            "Further rows repeating one after normalising whitespace and case",
            "lower",
        ),
        Metric(
            "data.duplicates.across_split",
            float(len(dupes.across_split)),
            "Test rows repeating a training row",
            "lower",
        ),
        Metric(
            "data.duplicates.input_across_split",
            float(dupes.input_across_split),
            "Test rows whose model input equals a training row's",
            "lower",
        ),
        Metric(
            "data.leakage.columns",
            float(len(leaks)),
            f"Columns predicting the label alone (ROC AUC >= {params.leak_roc_auc:g})",
            "lower",
        ),
        _max_auc(aucs),
        Metric(
            "data.shift.columns",
            float(len(shifted)),
            f"Columns shifted between the splits (lower bound > {params.shift:g})",
            "lower",
        ),
        _max_shift(shifts),
        Metric(
            "data.shift.significant",
            float(sum(s.p_adjusted is not None and s.p_adjusted < params.alpha for s in shifts)),
            f"Columns whose two-sample test rejects one distribution at {params.alpha:g} (Holm)",
            "lower",
        ),
    ]
    tables = [
        Table(
            "Data findings",
            ("Check", "Subject", "Detail"),
            tuple((f.check, f.subject, f.detail) for f in listed) or (("none", "", "no check found anything"),),
        ),
        _representation_table(found_shares, params),
        Table(
            "Favourable-label rate by group (every row)",
            ("Attribute", "Group", "Rows", "Rate"),
            tuple((a, g, r.trials, _estimate(r)) for a, by_group in rates.items() for g, r in by_group.items()),
            note=f"Wilson {level:.0%} intervals.",
        ),
        *_missing_table(missing, gaps, params),
        *(
            [
                Table(
                    "Values outside the declared ranges",
                    ("Column", "Range", "Outside", "Smallest", "Largest"),
                    tuple((r.column, f"[{r.low:g}, {r.high:g}]", r.rows, r.smallest, r.largest) for r in ranges),
                )
            ]
            if ranges
            else []
        ),
        Table(
            "Duplicates",
            ("Check", "Rows"),
            (
                ("Exact duplicates (repeat an earlier row)", dupes.exact),
                ("Near duplicates (after normalising whitespace and case)", dupes.near),
                ("Test rows repeating a training row", len(dupes.across_split)),
                ("Test rows whose model input equals a training row's", dupes.input_across_split),
            ),
            note="Rows are compared on every column but the label and the row id. A model input is the serialised "
            "text for a text model, the template's fields for a tabular one.",
        ),
        *(
            [
                Table(
                    "Test rows repeating a training row",
                    ("Row", "Training row"),
                    tuple(dupes.across_split),
                    applicant_rows=True,
                    shown_rows=SHOWN_PAIRS,
                )
            ]
            if dupes.across_split
            else []
        ),
        Table(
            "Each column alone as a predictor of the label",
            ("Column", "Scored by", "Cross-validated ROC AUC", "Leak"),
            tuple(
                (a.column, "its value" if a.numeric else "its value's favourable rate", a.roc_auc, _flag(a in leaks))
                for a in sorted(aucs, key=lambda a: -(a.roc_auc or 0.0))
            ),
            note=f"{params.folds}-fold stratified cross-validation (seed {params.seed}); a column reaching ROC AUC "
            f"{params.leak_roc_auc:g} alone is flagged as a leak.",
        ),
        _shift_table(shifts, params),
    ]
    return PluginFindings(
        plugin=plugin,
        title=title,
        summary=_summary(listed, audited),
        metrics=tuple(metrics),
        tables=tuple(tables),
        notes=_notes(
            params, plan, minimum, columns=audited.frame.shape[1], missing_cells=sum(p.events for p in missing.values())
        ),
    )


def _estimate(p: Proportion) -> Estimate:
    return Estimate(p.value, p.low, p.high)


def _flag(flagged: bool) -> str:
    return "FLAG" if flagged else ""


def _proportion_metric(path: str, p: Proportion, label: str) -> Metric:
    return Metric(path, p.value, label, "none", p.low, p.high, note="" if p.trials else "no rows")


def _share_metrics(s: Share) -> list[Metric]:
    prefix = f"data.representation.{s.attribute}.{metric_key(s.group)}"
    found = [_proportion_metric(f"{prefix}.{s.split}_share", s.share, f"Share of the {s.split} split")]
    if s.population is not None:
        gap, low, high = s.gap
        found.append(
            Metric(
                f"{prefix}.{s.split}_share_gap",
                gap,
                f"{s.split.capitalize()} share minus population share",
                "none",
                low,
                high,
            )
        )
    return found


def _representation_detail(s: Share) -> str:
    return (
        f"{s.verdict}-represented: share {s.share.value:.1%} [{s.share.low:.1%}, {s.share.high:.1%}] against "
        f"population {s.population:.1%} (tolerance {s.tolerance:g})"
    )


def _representation_table(found: list[Share], params: DataParams) -> Table:
    by_key: dict[tuple[str, str], dict[str, Share]] = {}
    for s in found:
        by_key.setdefault((s.attribute, s.group), {})[s.split] = s
    rows: list[tuple[Cell, ...]] = []
    for (attribute, group), split in by_key.items():
        train, test = split["train"], split["test"]
        verdicts = ", ".join(f"{s.verdict} ({name})" for name, s in split.items() if s.verdict)
        rows.append(
            (
                attribute,
                group,
                train.share.events,
                _estimate(train.share),
                test.share.events,
                _estimate(test.share),
                train.population,
                verdicts.upper() if verdicts else "",
            )
        )
    return Table(
        "Group shares of each split against the declared population",
        ("Attribute", "Group", "Train rows", "Train share", "Test rows", "Test share", "Population", "Flag"),
        tuple(rows),
        note=f"Wilson {params.confidence:.0%} intervals. A group is flagged when its share's whole interval lies more "
        f"than {params.tolerance:g} below or above its population share; groups without a declared population "
        "share are not judged.",
    )


def _missing_detail(g: GroupMissing) -> str:
    rates = ", ".join(f"{group} {r.value:.1%}" for group, r in g.by_group.items() if r.value is not None)
    return f"missing {rates} ({g.test}, Holm p = {g.p_adjusted:.2g})"


def _missing_table(missing: dict[str, Proportion], gaps: list[GroupMissing], params: DataParams) -> list[Table]:
    """The table of columns with a missing value by group; none when every column is complete."""
    gap_of: dict[str, list[GroupMissing]] = {}
    for g in gaps:
        gap_of.setdefault(g.column, []).append(g)
    rows: list[tuple[Cell, ...]] = []
    for column, p in missing.items():
        if not p.events:
            continue
        for g in gap_of.get(column, []):
            rates = "; ".join(f"{group} {r.value:.1%}" for group, r in g.by_group.items() if r.value is not None)
            rows.append((column, _estimate(p), g.attribute, rates, g.test, g.p_adjusted, g.gap, _flag(g.flagged)))
    if not rows:
        return []
    return [
        Table(
            "Missing values by column and group",
            ("Column", "Missing share", "Attribute", "Missing share by group", "Test", "Holm p", "Gap", "Flag"),
            tuple(rows),
            note=f"Only columns with a missing value are listed. Wilson "
            f"{params.confidence:.0%} intervals; a column is flagged for an attribute when the test of equal missing "
            f"shares rejects at {params.alpha:g} after Holm's correction over every column and attribute and the "
            f"largest and smallest group's shares differ by at least {params.missing_gap:g}.",
        )
    ]


def _max_auc(aucs: list[ColumnAuc]) -> Metric:
    best = max((a for a in aucs if a.roc_auc is not None), key=lambda a: a.roc_auc or 0.0, default=None)
    return Metric(
        "data.leakage.max_roc_auc",
        best.roc_auc if best else None,
        "Highest cross-validated ROC AUC of a single column",
        "lower",
        note=f"column {best.column}" if best else "undefined: too few rows of a class for the folds",
    )


def _max_shift(shifts: list[ColumnShift]) -> Metric:
    top = max(shifts, key=lambda s: (s.low, s.drift.value), default=None)
    return Metric(
        "data.shift.max_index",
        float(top.drift.value) if top else None,
        "Stability index of the most shifted column (by its lower bound)",
        "lower",
        top.low if top else None,
        top.high if top else None,
        note=f"column {top.column}" if top else "no columns",
    )


def _shift_table(shifts: list[ColumnShift], params: DataParams) -> Table:
    return Table(
        "Train-to-test shift per column",
        ("Column", "Stability index", "Band", "Test", "Holm p", "Shifted"),
        tuple(
            (
                s.column,
                Estimate(float(s.drift.value), s.low, s.high),
                s.drift.band,
                s.test,
                s.p_adjusted,
                _flag(s.shifted),
            )
            for s in sorted(shifts, key=lambda s: (-s.low, -s.drift.value))
        ),
        note=f"PSI (numbers, at the training split's deciles) or CSI (categories); {params.confidence:.0%} basic "
        f"bootstrap interval over {params.n_boot} resamples, which removes the index's sampling bias. A column has "
        f"shifted when the lower bound exceeds {params.shift:g}. Bands: below 0.1 stable, 0.1 to 0.25 watch, above "
        "0.25 shifted (on the estimate).",
    )


def _summary(listed: list[Finding], audited: AuditedData) -> str:
    rows, columns = audited.frame.shape
    size = f"{rows} rows ({len(audited.train)} train / {len(audited.test)} test), {columns} columns"
    if not listed:
        return f"On {size}: no finding."
    checks = sorted({f.check for f in listed})
    return f"On {size}: {len(listed)} finding{'s' * (len(listed) != 1)} ({', '.join(checks)})."


def _notes(params: DataParams, plan: AuditPlan, minimum: int, *, columns: int, missing_cells: int) -> tuple[str, ...]:
    notes = [
        f"Columns audited: every column but the label and the row id ({columns}). Missing values: "
        f"{'none, every column is complete' if not missing_cells else f'{missing_cells} cells'}.",
        f"Groups with fewer than {minimum} test rows (the larger of {params.min_group_size} rows and "
        f"{params.min_group_share:.0%} of the test split, the fairness family's defaults) are named: fairness "
        "shows them but compares none of their figures. Set min_group_size / min_group_share as in audits.fairness.",
        "Missing values alone are not a finding (the counts are metrics: data.missing.*); a column missing more often "
        "for some groups is.",
    ]
    if not params.population:
        notes.append("No population was declared (audits.data.population): group shares are shown, not judged.")
    if not plan.training_rows_known:
        notes.append(
            "The model was trained elsewhere on rows the spec does not name: the training split here is the spec's, "
            "not necessarily the rows the model saw."
        )
    return tuple(notes)
