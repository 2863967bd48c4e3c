"""Explanations a credit reviewer can act on, through Captum: field-level attributions by two
methods (Integrated Gradients and a perturbation method) on a seeded sample against the Reg B
reference applicant, faithfulness checks and attribution by group; and an adverse-action notice, with its
principal reasons by occlusion of whole fields, for every adverse decision of the test split.

Works for text models (Layer Integrated Gradients on the input embeddings, tokens
mapped to the template's fields by character offsets), tabular models
(Integrated Gradients on the encoded features, one-hot groups summed back to their
column) and tabular models trained elsewhere (skops or ONNX pipelines: the
perturbation method alone, as they have no gradients). See
``fmaudit.families.explanations`` for the methods.
"""

from __future__ import annotations

from fmaudit.core.findings import PluginFindings, metric_key
from fmaudit.families.explanations.collect import explain, methods
from fmaudit.families.explanations.params import (
    BLACK_BOX_SOURCES,
    FAITHFULNESS,
    GRADIENT_PARAMS,
    IG,
    NOTICE_FIGURES,
    ExplanationsParams,
)
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan


class ExplanationsPlugin(AuditPlugin[ExplanationsParams]):
    name = "explanations"
    title = "Explanations and reason codes"
    Params = ExplanationsParams

    def check(self, params: ExplanationsParams, plan: AuditPlan) -> list[str]:
        problems = []
        for key in params.reasons:
            if plan.fields and key not in plan.fields:
                problems.append(
                    f"reasons.{key}: not a field of the model's input; expected one of: {', '.join(plan.fields)}"
                )
            elif key in plan.sensitive_fields:
                problems.append(
                    f"reasons.{key}: a sensitive attribute is never given as a reason (Reg B); remove it "
                    "(the report flags notices where it would have been one)"
                )
        if plan.model_source in BLACK_BOX_SOURCES:
            problems += [
                f"{key}: sets the {what}, which needs gradients or continuous inputs; a model.source.format: "
                f"{plan.model_source} model is scored as a black box and explained by {params.perturbation} alone "
                "(no Integrated Gradients, no sensitivity_max): remove it"
                for key, what in GRADIENT_PARAMS.items()
                if key in params.model_fields_set
            ]
        return problems

    def metric_paths(self, params: ExplanationsParams, plan: AuditPlan) -> list[str]:
        black_box = plan.model_source in BLACK_BOX_SOURCES
        chosen = methods(params, black_box=black_box)
        paths = []
        if IG in chosen:
            paths += ["explanations.convergence_delta.mean_abs", "explanations.convergence_delta.max_abs"]
        paths.append("explanations.sensitive_share")
        if len(chosen) > 1:
            paths.append("explanations.method_agreement")
        paths += [
            f"explanations.{m}.{f}"
            for m in chosen
            for f in FAITHFULNESS
            if not (black_box and f == "sensitivity_max")  # noise on 0/1 field indicators means nothing
        ]
        paths += [f"explanations.notices.{f}" for f in NOTICE_FIGURES]
        for attribute, groups in plan.attributes.items():
            paths.append(f"explanations.by_group.{attribute}.sensitive_share_gap")
            paths += [f"explanations.by_group.{attribute}.groups.{metric_key(g)}.sensitive_share" for g in groups]
        return paths

    def run(self, context: AuditContext, params: ExplanationsParams) -> PluginFindings:
        return explain(context, params, name=self.name, title=self.title)
