"""Performance on the test split, next to two baselines fitted on the same split (see fmaudit.families.performance)."""

from __future__ import annotations

from fmaudit.core.findings import PluginFindings
from fmaudit.families.performance.baselines import baseline_scores
from fmaudit.families.performance.findings import performance_findings
from fmaudit.families.performance.params import BASELINES, DEGENERACY, FIGURES, PerformanceParams
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan


class PerformancePlugin(AuditPlugin[PerformanceParams]):
    name = "performance"
    title = "Performance"
    Params = PerformanceParams
    needs_model = False

    def metric_paths(self, params: PerformanceParams, plan: AuditPlan) -> list[str]:
        paths = [f"performance.{figure}" for figure in FIGURES]
        paths += [f"performance.baselines.{b}.{figure}" for b in BASELINES for figure in FIGURES]
        return paths + [f"performance.{figure}" for figure in DEGENERACY]

    def headline_paths(self, params: PerformanceParams, plan: AuditPlan) -> list[str]:
        return ["performance.roc_auc", "performance.balanced_accuracy"]

    def run(self, context: AuditContext, params: PerformanceParams) -> PluginFindings:
        from fmaudit.data import template_fields

        fields = list(context.plan.fields or template_fields(context.spec.data.template))
        baselines = baseline_scores(context.data, fields=fields)
        return performance_findings(context.predictions, baselines, params, plugin=self.name, title=self.title)
