"""Group fairness (see fmaudit.families.fairness): the plugin checks references against the plan, lists the metric
paths, and hands the context to the family."""

from __future__ import annotations

from fmaudit.core.findings import PluginFindings, metric_key
from fmaudit.families.fairness.findings import fairness_findings
from fmaudit.families.fairness.params import (
    DISPARITY_FIGURES,
    GROUP_FIGURES,
    MITIGATION_FIGURES,
    REFERENCE_FIGURES,
    TEST_FIGURES,
    FairnessParams,
)
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan

NEEDS_THE_MODEL = "re-scores rows with the attribute changed, which needs the model; a file of scores has none"


class FairnessPlugin(AuditPlugin[FairnessParams]):
    name = "fairness"
    title = "Fairness"
    Params = FairnessParams
    needs_model = False  # the counterfactual flips do; adapted() leaves them out for a file of scores

    def adapted(self, params: FairnessParams, plan: AuditPlan) -> FairnessParams:
        return params if plan.can_rescore else params.model_copy(update={"counterfactual": False})

    def check(self, params: FairnessParams, plan: AuditPlan) -> list[str]:
        problems = []
        if params.counterfactual and "counterfactual" in params.model_fields_set and not plan.can_rescore:
            problems.append(f"counterfactual: {NEEDS_THE_MODEL}; set counterfactual: false")
        for attribute, group in params.reference.items():
            if attribute not in plan.attributes:
                problems.append(
                    f"reference.{attribute}: unknown attribute; expected one of: {', '.join(plan.attributes)}"
                )
            elif group not in plan.attributes[attribute]:
                problems.append(
                    f"reference.{attribute}: unknown group {group!r}; expected one of: "
                    f"{', '.join(plan.attributes[attribute])}"
                )
        return problems

    def metric_paths(self, params: FairnessParams, plan: AuditPlan) -> list[str]:
        paths = ["fairness.significant_gaps"]
        for attribute, groups in plan.attributes.items():
            paths += [f"fairness.{attribute}.{d}" for d in (*DISPARITY_FIGURES, "parity_established")]
            for group in groups:
                prefix = f"fairness.{attribute}.groups.{metric_key(group)}"
                paths += [f"{prefix}.{f}" for f in (*GROUP_FIGURES, *REFERENCE_FIGURES, *TEST_FIGURES)]
            if params.counterfactual and attribute not in plan.intersections:
                paths += [f"fairness.{attribute}.counterfactual.{f}" for f in ("flip_rate", "mean_score_shift")]
            if params.mitigation:
                paths += [
                    f"fairness.{attribute}.mitigation.{c}.{f}"
                    for c in ("demographic_parity", "equalized_odds")
                    for f in MITIGATION_FIGURES
                ]
        return paths

    def headline_paths(self, params: FairnessParams, plan: AuditPlan) -> list[str]:
        return [
            f"fairness.{attribute}.{figure}"
            for attribute in plan.attributes
            for figure in ("demographic_parity_ratio", "equalized_odds_difference")
        ]

    def run(self, context: AuditContext, params: FairnessParams) -> PluginFindings:
        return fairness_findings(context, params, plugin=self.name, title=self.title)
