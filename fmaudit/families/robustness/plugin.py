"""Adversarial robustness through offline TextAttack recipes (see fmaudit.families.robustness): the plugin checks the
spec against the plan, lists the metric paths, runs the attacks and hands them to the family's findings."""

from __future__ import annotations

from fmaudit.core.errors import PluginError
from fmaudit.core.findings import PluginFindings, metric_key
from fmaudit.families.robustness.findings import robustness_findings
from fmaudit.families.robustness.params import FIGURES, GROUP_FIGURES, RobustnessParams
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan


class RobustnessPlugin(AuditPlugin[RobustnessParams]):
    name = "robustness"
    title = "Adversarial robustness"
    Params = RobustnessParams

    def check(self, params: RobustnessParams, plan: AuditPlan) -> list[str]:
        if plan.model_kind != "text":
            return [f"recipes: TextAttack recipes attack text; got model.kind: {plan.model_kind} (remove this audit)"]
        fields = params.constraints.protect_fields or []
        if not plan.fields:
            return []
        return [
            f"constraints.protect_fields: {f!r} is not a template field; expected one of: {', '.join(plan.fields)}"
            for f in fields
            if f not in plan.fields
        ]

    def metric_paths(self, params: RobustnessParams, plan: AuditPlan) -> list[str]:
        paths = []
        for recipe in params.recipes:
            paths += [f"robustness.{recipe}.{f}" for f in FIGURES]
            for attribute, groups in plan.attributes.items():
                paths += [
                    f"robustness.{recipe}.{attribute}.groups.{metric_key(g)}.{f}" for g in groups for f in GROUP_FIGURES
                ]
        return paths

    def headline_paths(self, params: RobustnessParams, plan: AuditPlan) -> list[str]:
        return [f"robustness.{recipe}.attack_success_rate" for recipe in params.recipes]

    def run(self, context: AuditContext, params: RobustnessParams) -> PluginFindings:
        from fmaudit.core.offline import prepare_textattack
        from fmaudit.models.text import TextClassifier

        if not isinstance(context.model, TextClassifier):
            raise PluginError(f"robustness: TextAttack attacks text; the audited model is {context.model.kind}")
        prepare_textattack(context.work_dir / "nltk_data")
        from fmaudit.families.robustness.attack import attack_sample

        run = attack_sample(context, params, classifier=context.model)
        return robustness_findings(context, params, run, plugin=self.name, title=self.title)
