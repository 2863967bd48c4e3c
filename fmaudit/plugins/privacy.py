"""Privacy: the differential-privacy statement, an empirical membership-inference test,
and what the guarantee cost against the non-private twin and across an epsilon sweep.

The statement reports what a DP claim needs (Ponomareva et al. 2023, "How to DP-fy ML";
Opacus docs) straight from the training record, whose epsilon came from Opacus's accountant.
Membership inference (fmaudit.membership) runs on every audited model, private or not, so a
non-private model's leakage is measured rather than assumed. The plugin trains nothing: the
pipeline trains the twin, sweep and reference models and hands them over in the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from fmaudit.findings import Better, Cell, Chart, Estimate, LineChart, Metric, PluginFindings, Table
from fmaudit.membership import LOW_FPRS, AttackResult, evaluate_attack, example_losses
from fmaudit.plugins.base import (
    AuditContext,
    AuditPlan,
    AuditPlugin,
    ComparedModel,
    MembershipRequest,
    PluginParams,
    Predictions,
)

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier

FIGURES: dict[str, tuple[str, Better]] = {
    "epsilon": ("Epsilon reached", "lower"),
    "delta": ("Delta", "lower"),
    "noise_multiplier": ("Noise multiplier", "none"),
    "sample_rate": ("Sampling rate", "none"),
    "steps": ("Optimizer steps", "none"),
    "max_grad_norm": ("Clipping norm", "none"),
}
ATTACK_FIGURES: dict[str, tuple[str, Better]] = {
    "auc": ("attack ROC AUC", "lower"),
    "balanced_accuracy": ("attack balanced accuracy (held-out threshold)", "lower"),
    "tpr_at_fpr_1pct": ("attack TPR at FPR 1%", "lower"),
    "tpr_at_fpr_0_1pct": ("attack TPR at FPR 0.1%", "lower"),
    "epsilon_lower_bound": ("empirical epsilon lower bound", "lower"),
}
FPR_KEYS = {0.01: "tpr_at_fpr_1pct", 0.001: "tpr_at_fpr_0_1pct"}
ATTACKS = {"loss": "loss threshold (Yeom et al. 2018)", "calibrated": "reference-calibrated (Watson et al. 2022)"}
ROC_TITLE = "Membership-inference ROC (log-scale false-positive rate)"
NO_GUARANTEE = "trained without DP-SGD: no formal privacy guarantee"


class PrivacyParams(PluginParams):
    membership: bool = Field(True, description="run membership-inference attacks on every audited model")
    members: int = Field(500, ge=10, description="members (and as many non-members) audited at most")
    reference_model: bool = Field(
        True,
        description="train a reference model per audited model (without any audited row) for the calibrated attack",
    )
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples for intervals (0: none)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    sweep_min_group_size: int = Field(20, ge=1, description="groups compared in the sweep's parity ratios")


class PrivacyPlugin(AuditPlugin[PrivacyParams]):
    name = "privacy"
    title = "Privacy"
    Params = PrivacyParams
    reads_findings = True  # the twin comparison reads this model's performance and fairness findings

    def metric_paths(self, params: PrivacyParams, plan: AuditPlan) -> list[str]:
        from fmaudit.privacy_cost import cost_paths, sweep_paths

        paths = ["privacy.dp", *(f"privacy.{figure}" for figure in FIGURES)]
        if params.membership:
            paths += ["privacy.mia.auc", "privacy.mia.members"]
            paths += [f"privacy.mia.{a}.{f}" for a in self._attacks(params) for f in ATTACK_FIGURES]
        if plan.twin:
            paths += cost_paths(plan.attributes)
        return paths + sweep_paths(plan.sweep)

    def membership_request(self, params: PrivacyParams, plan: AuditPlan) -> MembershipRequest | None:
        if not params.membership:
            return None
        return MembershipRequest(size=params.members, seed=params.seed, reference_model=params.reference_model)

    def run(self, context: AuditContext, params: PrivacyParams) -> PluginFindings:
        metrics, tables, summary = _statement(context)
        charts: list[Chart] = []
        attacks: dict[str, AttackResult] = {}
        if params.membership and context.membership is not None:
            context.say("privacy: membership inference")
            attacks = _attacks(context, params)
            metrics += _attack_metrics(attacks, context.membership.sets.members.size)
            tables.append(_attack_table(attacks, context))
            charts.append(_roc_chart(attacks, context.compared))
            summary += " " + _attack_summary(attacks, context)
        twin = next((m for m in context.compared if m.role == "twin"), None)
        if twin is not None:
            from fmaudit.privacy_cost import twin_cost

            cost = twin_cost(
                own=context.findings,
                own_predictions=context.predictions,
                twin=twin,
                sensitive=context.data.sensitive,
                n_boot=params.n_boot,
                confidence=params.confidence,
                seed=params.seed,
            )
            metrics += cost.metrics
            tables += cost.tables
            charts += cost.charts
            summary += " " + cost.summary
        sweep = [m for m in context.compared if m.role == "sweep"]
        if sweep:
            context.say(f"privacy: epsilon sweep over {len(sweep)} models")
            sweep_metrics, sweep_table, sweep_charts = _sweep(context, params, attacks, twin, sweep)
            metrics += sweep_metrics
            tables.append(sweep_table)
            charts += sweep_charts
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary=summary,
            metrics=tuple(metrics),
            tables=tuple(tables),
            charts=tuple(charts),
            notes=_notes(params) if attacks else (),
        )

    @staticmethod
    def _attacks(params: PrivacyParams) -> list[str]:
        return ["loss", "calibrated"] if params.reference_model else ["loss"]


def _statement(context: AuditContext) -> tuple[list[Metric], list[Table], str]:
    """The DP statement (or the absence of one) as metrics, a table and a summary sentence."""
    record, training = context.training.privacy, context.training
    if record is None:
        metrics = [Metric("privacy.dp", 0.0, "Trained with DP-SGD (1 = yes)")]
        metrics += [
            Metric(f"privacy.{f}", None, label, better, note=NO_GUARANTEE) for f, (label, better) in FIGURES.items()
        ]
        return (
            metrics,
            [],
            "The model was trained without differential privacy and carries no formal privacy guarantee: nothing "
            "bounds what it may reveal about individual training rows.",
        )
    values = {
        "epsilon": record.epsilon,
        "delta": record.delta,
        "noise_multiplier": record.noise_multiplier,
        "sample_rate": record.sample_rate,
        "steps": float(record.steps),
        "max_grad_norm": record.max_grad_norm,
    }
    metrics = [Metric("privacy.dp", 1.0, "Trained with DP-SGD (1 = yes)")]
    metrics += [Metric(f"privacy.{f}", values[f], label, better) for f, (label, better) in FIGURES.items()]
    frozen = training.total_parameters - training.trainable_parameters
    inverse_n = 1 / record.dataset_size
    statement = (
        ("Unit of privacy", "one training example (add/remove adjacency): one row of the data set"),
        ("Epsilon reached / target", f"{record.epsilon:.3f} / {record.target_epsilon:g}"),
        (
            "Delta",
            f"{record.delta:g} (1/N = {inverse_n:.2e})"
            + ("" if record.delta < inverse_n else " — AT OR ABOVE 1/N, accepted by allow_large_delta: weak guarantee"),
        ),
        ("Accountant", f"Opacus '{record.accountant}'"),
        ("Noise multiplier", f"{record.noise_multiplier:.4f}"),
        ("Clipping norm (per example)", f"{record.max_grad_norm:g}"),
        ("Dataset size N", record.dataset_size),
        ("Sampling rate / expected batch size", f"{record.sample_rate:.5f} / {record.expected_batch_size:g}"),
        ("Poisson sampling", "on" if record.poisson_sampling else "off"),
        ("Physical batch size", f"at most {record.max_physical_batch_size} rows (Opacus BatchMemoryManager)"),
        (
            "Per-example clipping",
            "ghost clipping" if record.grad_sample_mode == "ghost" else "per-sample gradients (hooks)",
        ),
        ("Epochs / optimizer steps", f"{record.epochs} / {record.steps}"),
        (
            "Parameters covered",
            f"{', '.join(training.trained_modules)}: {training.trainable_parameters:,} trained parameters",
        ),
        (
            "Parameters not covered",
            f"{frozen:,} frozen parameters, kept as pretrained: public, not trained on this data",
        ),
        (
            "Secure RNG",
            "on" if record.secure_mode else "off (fine for experiments; retrain with secure_mode for production)",
        ),
        (
            "Outside the guarantee",
            "the base model's pretraining (its data is not covered by this guarantee), the test split, and the "
            "choice of hyper-parameters (tuning on the private data spends privacy not accounted here)",
        ),
    )
    summary = (
        f"Trained with DP-SGD to (ε = {record.epsilon:.2f}, δ = {record.delta:g}) at the example level, "
        f"accounted by Opacus's {record.accountant} accountant over {record.steps} steps."
    )
    return metrics, [Table(title="Differential-privacy statement", columns=("Item", "Value"), rows=statement)], summary


def _scores(
    context: AuditContext, model: Classifier, rows: np.ndarray, predictions: Predictions | None = None
) -> np.ndarray:
    """P(favourable) of ``model`` on ``rows``, reusing its test-split predictions where they cover the rows."""
    if predictions is not None:
        position = {int(r): i for i, r in enumerate(predictions.row_ids)}
        if all(int(r) in position for r in rows):
            return predictions.scores[[position[int(r)] for r in rows]]
    return model.predict_rows(context.data, rows)


def _attacks(context: AuditContext, params: PrivacyParams) -> dict[str, AttackResult]:
    """Both attacks on the audited model (the calibrated one when a reference model was trained)."""
    inputs = context.membership
    assert inputs is not None
    sets, data = inputs.sets, context.data
    labels_m, labels_n = data.labels[sets.members], data.labels[sets.non_members]
    loss_m = example_losses(_scores(context, context.model, sets.members, context.predictions), labels_m)
    loss_n = example_losses(_scores(context, context.model, sets.non_members, context.predictions), labels_n)
    delta = _delta(context)

    def attack(name: str, member_scores: np.ndarray, non_member_scores: np.ndarray) -> AttackResult:
        return evaluate_attack(
            name,
            member_scores,
            non_member_scores,
            delta=delta,
            n_boot=params.n_boot,
            confidence=params.confidence,
            seed=params.seed,
        )

    results = {"loss": attack("loss", -loss_m, -loss_n)}
    if inputs.reference is not None:
        ref_m = example_losses(inputs.reference.predict_rows(data, sets.members), labels_m)
        ref_n = example_losses(inputs.reference.predict_rows(data, sets.non_members), labels_n)
        results["calibrated"] = attack("calibrated", ref_m - loss_m, ref_n - loss_n)
    return results


def _delta(context: AuditContext) -> float:
    """The delta the empirical bound is stated at: the spec's, so the DP model and its twin compare alike."""
    privacy = context.spec.training.privacy
    return privacy.delta if privacy is not None else 0.0


def _strongest(attacks: dict[str, AttackResult]) -> AttackResult:
    return max(attacks.values(), key=lambda a: a.auc)


def _attack_metrics(attacks: dict[str, AttackResult], members: int) -> list[Metric]:
    strongest = _strongest(attacks)
    metrics = [
        Metric("privacy.mia.members", float(members), "Members audited (as many non-members)"),
        Metric(
            "privacy.mia.auc",
            strongest.auc,
            f"Membership-inference AUC, strongest attack ({strongest.attack})",
            "lower",
            ci_low=strongest.auc_low,
            ci_high=strongest.auc_high,
        ),
    ]
    for name, result in attacks.items():
        values = {
            "auc": result.auc,
            "balanced_accuracy": result.balanced_accuracy,
            **{FPR_KEYS[level]: result.tpr_at_fpr[level] for level in LOW_FPRS},
            "epsilon_lower_bound": result.epsilon_lower_bound,
        }
        for figure, (label, better) in ATTACK_FIGURES.items():
            value = values[figure]
            metrics.append(
                Metric(
                    f"privacy.mia.{name}.{figure}",
                    value,
                    f"{name} {label}",
                    better,
                    ci_low=result.auc_low if figure == "auc" else None,
                    ci_high=result.auc_high if figure == "auc" else None,
                    note="" if value is not None else f"needs at least {_needed(figure)} non-members",
                )
            )
    return metrics


def _needed(figure: str) -> int:
    level = next(level for level, key in FPR_KEYS.items() if key == figure)
    return round(1 / level)


def _attack_table(attacks: dict[str, AttackResult], context: AuditContext) -> Table:
    """Each attack's figures on this model, with the twin's from its own findings when there is one."""
    twin = next((m for m in context.compared if m.role == "twin"), None)
    twin_metrics = twin.findings.metrics() if twin is not None else {}
    rows = []
    for name, result in attacks.items():
        row_sets = [("this model", _attack_row(result))]
        if twin is not None:
            row_sets.append(("no-DP twin", _twin_attack_row(twin_metrics, name)))
        rows += [(ATTACKS[name], who, *cells) for who, cells in row_sets]
    return Table(
        title="Membership inference: can an attacker tell training rows from unseen rows?",
        columns=(
            "Attack",
            "Model",
            "AUC",
            "Balanced accuracy",
            "TPR at FPR 1%",
            "TPR at FPR 0.1%",
            f"ε lower bound ({next(iter(attacks.values())).confidence:.0%})",
        ),
        rows=tuple(rows),
        note=f"{next(iter(attacks.values())).members} members (training rows) and as many non-members (test rows), "
        "drawn with a seed. AUC 0.5 is chance. 'n/a' at FPR 0.1% means fewer than 1,000 non-members: too few "
        "to measure that rate.",
    )


def _attack_row(result: AttackResult) -> tuple[Cell, ...]:
    return (
        Estimate(result.auc, result.auc_low, result.auc_high),
        result.balanced_accuracy,
        *(result.tpr_at_fpr[level] for level in LOW_FPRS),
        result.epsilon_lower_bound,
    )


def _twin_attack_row(metrics: dict[str, Metric], attack: str) -> tuple[Cell, ...]:
    def value(figure: str) -> float | None:
        metric = metrics.get(f"privacy.mia.{attack}.{figure}")
        return metric.value if metric is not None else None

    auc = metrics.get(f"privacy.mia.{attack}.auc")
    return (
        Estimate(auc.value, auc.ci_low, auc.ci_high) if auc is not None else Estimate(None),
        *(value(figure) for figure in ATTACK_FIGURES if figure != "auc"),
    )


def _roc_chart(attacks: dict[str, AttackResult], compared: tuple[ComparedModel, ...]) -> LineChart:
    """ROC curves of this model's attacks, and the twin's (taken from its own findings)."""
    series = [(f"this model: {name}", r.roc_fpr, r.roc_tpr) for name, r in attacks.items()]
    twin_series = [
        (name.replace("this model", "no-DP twin"), xs, ys)
        for model in compared
        if model.role == "twin"
        for section in model.findings.sections
        for chart in section.charts
        if isinstance(chart, LineChart) and chart.title == ROC_TITLE
        for name, xs, ys in chart.series
        if name.startswith("this model")
    ]
    n = next(iter(attacks.values())).non_members
    return LineChart(
        title=ROC_TITLE,
        x_label="false-positive rate (log scale)",
        y_label="true-positive rate",
        series=tuple(series + twin_series),
        log_x=True,
        x_min=max(1e-3, 1 / max(n, 1)),
        x_max=1.0,
        y_min=0.0,
        y_max=1.0,
        dashed=tuple(name for name, _, _ in twin_series),
        diagonal=True,
        note="An attack at chance follows the diagonal. The low-FPR end is what matters (Carlini et al. 2022): "
        f"with {n} non-members the smallest non-zero FPR is 1/{n}, where the curves start. Dashed: the no-DP twin.",
    )


def _attack_summary(attacks: dict[str, AttackResult], context: AuditContext) -> str:
    strongest = _strongest(attacks)
    interval = f" [{strongest.auc_low:.2f}, {strongest.auc_high:.2f}]" if strongest.auc_low is not None else ""
    if strongest.auc_low is None or strongest.auc_high is None:
        verdict = "measured without an interval"
    elif strongest.auc_low > 0.5:
        verdict = "above chance: the attack tells members from non-members better than guessing"
    elif strongest.auc_high < 0.5:
        verdict = "below chance: no membership signal in the direction the attack assumes"
    else:
        verdict = "indistinguishable from chance at this sample size (the interval holds 0.5)"
    text = (
        f"Membership inference ({strongest.attack} attack, {strongest.members} members vs as many non-members): "
        f"AUC {strongest.auc:.3f}{interval}, {verdict}; implied ε ≥ {strongest.epsilon_lower_bound:.2f} "
        f"at {strongest.confidence:.0%} confidence."
    )
    record = context.training.privacy
    if record is not None:
        consistent = max(a.epsilon_lower_bound for a in attacks.values()) <= record.epsilon
        text += (
            f" This does not contradict the guarantee ε = {record.epsilon:.2f} (an empirical bound only shows how much "
            "these attacks extract, never that the model is private)."
            if consistent
            else f" The empirical bound EXCEEDS the claimed ε = {record.epsilon:.2f}: the DP claim is in doubt."
        )
    return text


def _sweep(
    context: AuditContext,
    params: PrivacyParams,
    attacks: dict[str, AttackResult],
    twin: ComparedModel | None,
    sweep: list[ComparedModel],
) -> tuple[list[Metric], Table, tuple[LineChart, ...]]:
    """Utility, parity and loss-attack AUC for the audited model, its twin and every sweep model."""
    from fmaudit.privacy_cost import SweepPoint, sweep_findings, sweep_key

    plain = [a for a in context.plan.attributes if a not in context.plan.intersections]
    loss = attacks.get("loss")
    points = [
        SweepPoint(
            label="audited model",
            epsilon=context.training.privacy.epsilon if context.training.privacy else None,
            key=None,
            mia_auc=loss.auc if loss is not None else None,
            **_utility(context, params, context.predictions, plain),
        )
    ]
    if twin is not None:
        twin_auc = twin.findings.metrics().get("privacy.mia.loss.auc")
        points.append(
            SweepPoint(
                label="no-DP twin",
                epsilon=None,
                key=None,
                mia_auc=twin_auc.value if twin_auc is not None else None,
                **_utility(context, params, twin.predictions, plain),
            )
        )
    for model in sweep:
        record = model.training.privacy
        assert record is not None  # sweep models are private by construction
        points.append(
            SweepPoint(
                label=model.label,
                epsilon=record.epsilon,
                key=sweep_key(record.target_epsilon),
                mia_auc=_loss_auc(context, model) if context.membership is not None else None,
                **_utility(context, params, model.predictions, plain),
            )
        )
    return sweep_findings(points, plain)


def _utility(
    context: AuditContext, params: PrivacyParams, predictions: Predictions, attributes: list[str]
) -> dict[str, Any]:
    """Accuracy, ROC AUC and each attribute's demographic parity ratio (point estimates) of one model."""
    from fmaudit.fairness.attribute import audit_attribute
    from fmaudit.performance.figures import score_figures

    figures = score_figures(predictions.labels, predictions.scores, threshold=predictions.threshold)
    groups = context.data.sensitive.iloc[predictions.row_ids].reset_index(drop=True)
    parity = {
        a: audit_attribute(
            labels=predictions.labels,
            decisions=predictions.decisions,
            scores=predictions.scores,
            groups=groups[a],
            all_groups=context.plan.attributes.get(a, []),
            min_size=params.sweep_min_group_size,
            reference=None,
            n_boot=0,
            confidence=params.confidence,
            rng=np.random.default_rng(params.seed),
        )
        .disparities["demographic_parity_ratio"]
        .value
        for a in attributes
    }
    return {"accuracy": float(figures["accuracy"] or 0.0), "roc_auc": figures["roc_auc"], "parity": parity}


def _loss_auc(context: AuditContext, model: ComparedModel) -> float:
    """The loss attack's AUC on a sweep model (no interval: the curve shows the trend)."""
    assert context.membership is not None
    sets, labels = context.membership.sets, context.data.labels
    loss_m = example_losses(_scores(context, model.model, sets.members), labels[sets.members])
    loss_n = example_losses(
        _scores(context, model.model, sets.non_members, model.predictions), labels[sets.non_members]
    )
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(loss_m)), np.zeros(len(loss_n))], -np.r_[loss_m, loss_n]))


def _notes(params: PrivacyParams) -> tuple[str, ...]:
    return (
        "Membership inference: members are training rows, non-members test rows, equal in number and drawn with "
        f"seed {params.seed}. The loss attack calls low-loss rows members (Yeom et al. 2018); the calibrated attack "
        "subtracts each row's loss under a reference model trained, with the same settings, on the training rows "
        "not drawn as members, so it has seen none of the audited rows (Watson et al. 2022).",
        f"AUC intervals: {params.confidence:.0%} percentile bootstrap over {params.n_boot} resamples of members and "
        "non-members separately. Balanced accuracy and the ε lower bound use a threshold chosen on one seeded half "
        "of each set and are measured on the other half. The bound is ε ≥ max(ln((TPR − δ)/FPR), "
        "ln((1 − δ − FPR)/FNR)) with one-sided Clopper–Pearson bounds on the rates (Jagielski et al. 2020): it "
        "holds at the stated confidence and is limited by the sample size — a perfect attack on 150 held-out rows "
        "per side can show no more than about ε ≥ 3.7. A small bound never proves privacy.",
    )
