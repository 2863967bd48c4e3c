"""The data audit (see fmaudit.families.data): checks its parameters against the plan's attributes and columns,
lists its metric paths, and runs on the prepared data alone."""

from __future__ import annotations

from fmaudit.core.findings import PluginFindings, metric_key
from fmaudit.families.data.audited import AuditedData
from fmaudit.families.data.findings import data_findings
from fmaudit.families.data.params import SHARE_SUM_TOLERANCE, DataParams
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan

COUNTS = (
    "findings",
    "representation.flagged",
    "representation.small_groups",
    "missing.share",
    "missing.columns",
    "missing.group_gaps",
    "ranges.out_of_range",
    "columns.constant",
    "columns.near_constant",
    "duplicates.exact",
    "duplicates.near",
    "duplicates.across_split",
    "duplicates.input_across_split",
    "leakage.columns",
    "leakage.max_roc_auc",
    "shift.columns",
    "shift.max_index",
    "shift.significant",
)
"""The figures of the whole data set, under ``data.``."""


class DataPlugin(AuditPlugin[DataParams]):
    name = "data"
    title = "Data governance"
    Params = DataParams
    needs_model = False  # reads the prepared data only: runs on a file of scores too

    def check(self, params: DataParams, plan: AuditPlan) -> list[str]:
        problems = []
        for attribute, declared in params.population.items():
            if attribute not in plan.attributes:
                problems.append(
                    f"population.{attribute}: unknown attribute; expected one of: {', '.join(plan.attributes)}"
                )
                continue
            unknown = [g for g in declared if g not in plan.attributes[attribute]]
            if unknown:
                problems.append(
                    f"population.{attribute}: unknown group{'s' * (len(unknown) > 1)} "
                    f"{', '.join(map(repr, unknown))}; expected among: {', '.join(plan.attributes[attribute])}"
                )
            total = sum(declared.values())
            if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
                problems.append(f"population.{attribute}: expected shares summing to 1; got {total:g}")
            negative = [g for g, share in declared.items() if not 0.0 <= share <= 1.0]
            if negative:
                problems.append(
                    f"population.{attribute}: expected shares in [0, 1]; got {negative[0]!r}: {declared[negative[0]]:g}"
                )
        for column in params.ranges:
            if column not in plan.columns:
                problems.append(f"ranges.{column}: unknown column; expected one of: {', '.join(plan.numeric_columns)}")
            elif column not in plan.numeric_columns:
                problems.append(f"ranges.{column}: expected a numeric column; {column!r} holds text")
        return problems

    def metric_paths(self, params: DataParams, plan: AuditPlan) -> list[str]:
        paths = [f"data.{figure}" for figure in COUNTS]
        for attribute, groups in plan.attributes.items():
            declared = params.population.get(attribute, {})
            for group in groups:
                prefix = f"data.representation.{attribute}.{metric_key(group)}"
                paths += [f"{prefix}.{split}_share" for split in ("train", "test")]
                if group in declared:
                    paths += [f"{prefix}.{split}_share_gap" for split in ("train", "test")]
        paths += [f"data.labels.{a}.{metric_key(g)}.base_rate" for a, groups in plan.attributes.items() for g in groups]
        return paths + [f"data.ranges.{metric_key(column)}.out_of_range" for column in params.ranges]

    def headline_paths(self, params: DataParams, plan: AuditPlan) -> list[str]:
        return ["data.findings", "data.duplicates.across_split", "data.leakage.columns"]

    def run(self, context: AuditContext, params: DataParams) -> PluginFindings:
        return data_findings(AuditedData.of(context), context.plan, params, plugin=self.name, title=self.title)
