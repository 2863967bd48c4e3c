"""Performance on the test split, next to two baselines fitted on the same split (see fmaudit.performance)."""

from __future__ import annotations

from fmaudit.context import AuditContext, AuditPlan
from fmaudit.findings import PluginFindings
from fmaudit.performance.figures import baseline_scores
from fmaudit.performance.findings import performance_findings
from fmaudit.performance.params import BASELINES, DEGENERACY, FIGURES, PerformanceParams
from fmaudit.plugins.base import AuditPlugin


class PerformancePlugin(AuditPlugin[PerformanceParams]):
    name = "performance"
    title = "Performance"
    Params = PerformanceParams

    def metric_paths(self, params: PerformanceParams, plan: AuditPlan) -> list[str]:
        paths = [f"performance.{figure}" for figure in FIGURES]
        paths += [f"performance.baselines.{b}.{figure}" for b in BASELINES for figure in FIGURES]
        return paths + [f"performance.{figure}" for figure in DEGENERACY]

    def run(self, context: AuditContext, params: PerformanceParams) -> PluginFindings:
        from fmaudit.data import template_fields

        fields = list(context.plan.fields or template_fields(context.spec.data.template))
        baselines = baseline_scores(context.data, fields=fields)
        return performance_findings(context.predictions, baselines, params, plugin=self.name, title=self.title)
