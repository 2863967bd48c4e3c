"""The privacy plugin: it asks the pipeline for membership-inference rows, lists the metric paths, and hands the
context to the family, with the utility figures of the twin and sweep from the shared metrics layer."""

from __future__ import annotations

import functools
from typing import Any

from fmaudit.core.findings import PluginFindings
from fmaudit.families.privacy.findings import privacy_findings
from fmaudit.families.privacy.params import ATTACK_FIGURES, FIGURES, PrivacyParams, attack_names
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan, MembershipRequest, Predictions


class PrivacyPlugin(AuditPlugin[PrivacyParams]):
    name = "privacy"
    title = "Privacy"
    Params = PrivacyParams
    reads_findings = True  # the twin comparison reads this model's performance and fairness findings
    needs_model = False  # membership inference does; adapted() leaves it out where it cannot run

    def adapted(self, params: PrivacyParams, plan: AuditPlan) -> PrivacyParams:
        if not plan.model_source:
            return params
        return params.model_copy(update={"reference_model": False, "membership": not membership_refused(plan)})

    def check(self, params: PrivacyParams, plan: AuditPlan) -> list[str]:
        if not plan.model_source:
            return []
        refused = membership_refused(plan)
        problems = [f"membership: {refused}; set membership: false"] * bool(
            refused and params.membership and "membership" in params.model_fields_set
        )
        if params.reference_model and "reference_model" in params.model_fields_set:
            problems.append(
                "reference_model: a reference model must be trained like the audited one, and fmaudit did not train "
                "a model given by model.source; set reference_model: false (the loss-threshold attack still runs)"
            )
        return problems

    def metric_paths(self, params: PrivacyParams, plan: AuditPlan) -> list[str]:
        from fmaudit.families.privacy.cost import cost_paths, sweep_paths

        paths = ["privacy.dp", *(f"privacy.{figure}" for figure in FIGURES)]
        if params.membership:
            paths += ["privacy.mia.auc", "privacy.mia.members"]
            paths += [f"privacy.mia.{a}.{f}" for a in attack_names(params) for f in ATTACK_FIGURES]
        if plan.twin:
            paths += cost_paths(plan.attributes)
        return paths + sweep_paths(plan.sweep)

    def headline_paths(self, params: PrivacyParams, plan: AuditPlan) -> list[str]:
        return ["privacy.mia.auc"] if params.membership else []

    def membership_request(self, params: PrivacyParams, plan: AuditPlan) -> MembershipRequest | None:
        if not params.membership:
            return None
        return MembershipRequest(size=params.members, seed=params.seed, reference_model=params.reference_model)

    def run(self, context: AuditContext, params: PrivacyParams) -> PluginFindings:
        utility = functools.partial(_utility, context, params)
        return privacy_findings(context, params, utility=utility, plugin=self.name, title=self.title)


def membership_refused(plan: AuditPlan) -> str:
    """Why membership inference cannot run on a model trained elsewhere, or '' where it can."""
    if not plan.can_rescore:
        return "membership inference scores training rows, which needs the model; a file of scores has none"
    if not plan.training_rows_known:
        return (
            "membership inference needs to know which rows the model was trained on (its members); "
            "declare them with model.source.trained_on"
        )
    return ""


def _utility(
    context: AuditContext, params: PrivacyParams, predictions: Predictions, attributes: list[str]
) -> dict[str, Any]:
    """Accuracy, ROC AUC and each attribute's demographic parity ratio (point estimates) of one model."""
    from fmaudit.data import UNKNOWN_GROUP
    from fmaudit.metrics.parity import demographic_parity_ratio
    from fmaudit.metrics.scores import score_figures

    figures = score_figures(predictions.labels, predictions.scores, threshold=predictions.threshold)
    groups = context.data.sensitive.iloc[predictions.row_ids].reset_index(drop=True)
    parity = {
        a: demographic_parity_ratio(
            predictions.decisions,
            groups[a].astype(str).to_numpy(),
            context.plan.attributes.get(a, []),
            min_size=params.sweep_min_group_size,
            unknown=UNKNOWN_GROUP,
        )
        for a in attributes
    }
    return {"accuracy": float(figures["accuracy"] or 0.0), "roc_auc": figures["roc_auc"], "parity": parity}
