"""The behaviour plugin: monotonicity, invariance and template sensitivity (fmaudit.families.behaviour), wired
into the plugin contract."""

from __future__ import annotations

from fmaudit.core.findings import Estimate, Metric, PluginFindings
from fmaudit.families.behaviour.audit import Inputs, run_behaviour
from fmaudit.families.behaviour.findings import behaviour_findings, metric_paths
from fmaudit.families.behaviour.params import BehaviourParams, problems
from fmaudit.families.behaviour.sections import MONO
from fmaudit.families.behaviour.templates import PARITY
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan


class BehaviourPlugin(AuditPlugin[BehaviourParams]):
    name = "behaviour"
    title = "Behaviour: monotonicity, invariance, template sensitivity"
    Params = BehaviourParams
    reads_findings = True
    """It runs after the fairness section, so the audited template's parity ratios are that section's own."""

    def check(self, params: BehaviourParams, plan: AuditPlan) -> list[str]:
        return problems(params, plan)

    def metric_paths(self, params: BehaviourParams, plan: AuditPlan) -> list[str]:
        return metric_paths(params, kind=plan.model_kind, attributes=plan.attributes)

    def headline_paths(self, params: BehaviourParams, plan: AuditPlan) -> list[str]:
        return [f"{MONO}.adverse_flip_rate"] if params.monotonicity else []

    def run(self, context: AuditContext, params: BehaviourParams) -> PluginFindings:
        preds = context.predictions
        inputs = Inputs(
            data=context.data,
            model=context.model,
            template=context.spec.data.template,
            row_ids=preds.row_ids,
            labels=preds.labels,
            scores=preds.scores,
            threshold=preds.threshold,
            attributes=context.plan.attributes,
            numeric_fields=context.plan.numeric_fields,
            gates=tuple(context.spec.gates),
            fairness_parity=fairness_parity(context.findings.metrics(), context.plan.attributes),
            say=context.say,
        )
        return behaviour_findings(
            run_behaviour(inputs, params),
            params,
            plugin=self.name,
            title=self.title,
            kind=context.model.kind,
            template=context.spec.data.template,
            attributes=context.plan.attributes,
            intersections=context.plan.intersections,
        )


def fairness_parity(metrics: dict[str, Metric], attributes: dict[str, list[str]]) -> dict[str, Estimate]:
    """The fairness section's demographic parity ratio of each attribute, where it was measured."""
    found = {a: metrics.get(f"fairness.{a}.{PARITY}") for a in attributes}
    return {a: Estimate(m.value, m.ci_low, m.ci_high) for a, m in found.items() if m is not None}
