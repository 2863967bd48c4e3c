"""The privacy section: the DP statement, membership-inference figures with intervals and ROC curves, the
cost of privacy against the non-private twin, and the epsilon sweep.

Membership inference runs on every audited model, private or not, so a non-private model's leakage is
measured rather than assumed. Nothing here trains: the pipeline trains the twin, sweep and reference models
and hands them over in the context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fmaudit.core.findings import Cell, Chart, Estimate, LineChart, Metric, PluginFindings, Table
from fmaudit.families.privacy.cost import SweepPoint, sweep_findings, sweep_key, twin_cost
from fmaudit.families.privacy.membership import LOW_FPRS, AttackResult, audit_attacks, loss_auc
from fmaudit.families.privacy.params import ATTACK_FIGURES, ATTACKS, FPR_KEYS, PrivacyParams
from fmaudit.families.privacy.statement import statement
from fmaudit.plugins.context import AuditContext, ComparedModel, Predictions

Utility = Callable[[Predictions, list[str]], dict[str, Any]]
"""Accuracy, ROC AUC and each attribute's demographic parity ratio of one model's test predictions
(computed by the performance and fairness families; the plugin passes it in)."""

ROC_TITLE = "Membership-inference ROC (log-scale false-positive rate)"


def privacy_findings(
    context: AuditContext, params: PrivacyParams, *, utility: Utility, plugin: str, title: str
) -> PluginFindings:
    """The whole privacy section for the context's model."""
    metrics, tables, summary = statement(context)
    charts: list[Chart] = []
    attacks: dict[str, AttackResult] = {}
    if params.membership and context.membership is not None:
        context.say("privacy: membership inference")
        attacks = audit_attacks(context, params)
        metrics += _attack_metrics(attacks, context.membership.sets.members.size)
        tables.append(_attack_table(attacks, context))
        charts.append(_roc_chart(attacks, context.compared))
        summary += " " + _attack_summary(attacks, context)
    twin = next((m for m in context.compared if m.role == "twin"), None)
    if twin is not None:
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
        sweep_metrics, sweep_table, sweep_charts = _sweep(context, params, attacks, twin, sweep, utility)
        metrics += sweep_metrics
        tables.append(sweep_table)
        charts += sweep_charts
    return PluginFindings(
        plugin=plugin,
        title=title,
        summary=summary,
        metrics=tuple(metrics),
        tables=tuple(tables),
        charts=tuple(charts),
        notes=_notes(params) if attacks else (),
    )


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
        bounds = {
            "auc": (result.auc_low, result.auc_high),
            **{FPR_KEYS[level]: result.tpr_at_fpr_interval[level] for level in LOW_FPRS},
        }
        for figure, (label, better) in ATTACK_FIGURES.items():
            value = values[figure]
            metrics.append(
                Metric(
                    f"privacy.mia.{name}.{figure}",
                    value,
                    f"{name} {label}",
                    better,
                    ci_low=bounds.get(figure, (None, None))[0],
                    ci_high=bounds.get(figure, (None, None))[1],
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
            f"ε lower bound, heuristic ({next(iter(attacks.values())).confidence:.0%}, jointly over the attacks)",
        ),
        rows=tuple(rows),
        note=f"{next(iter(attacks.values())).members} members (training rows) and as many non-members (test rows), "
        "drawn with a seed. AUC 0.5 is chance. 'n/a' at FPR 0.1% means fewer than 1,000 non-members: too few "
        "to measure that rate. The ε lower bound is a heuristic: its confidence is over this draw of members from "
        "one trained model, not over independent training runs (Jagielski et al. 2020), which a certified audit "
        "needs (or one run with randomly included canaries: Steinke, Nasr & Jagielski 2023).",
    )


def _attack_row(result: AttackResult) -> tuple[Cell, ...]:
    return (
        Estimate(result.auc, result.auc_low, result.auc_high),
        result.balanced_accuracy,
        *(Estimate(result.tpr_at_fpr[level], *result.tpr_at_fpr_interval[level]) for level in LOW_FPRS),
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
        f"AUC {strongest.auc:.3f}{interval}, {verdict}; heuristic ε lower bound {strongest.epsilon_lower_bound:.2f} "
        f"({strongest.confidence:.0%} over the draw of members from this one model, jointly over the attacks)."
    )
    record = context.training.privacy
    if record is not None:
        consistent = max(a.epsilon_lower_bound for a in attacks.values()) <= record.epsilon
        text += (
            f" This does not contradict the guarantee ε = {record.epsilon:.2f} (an empirical bound only shows how much "
            "these attacks extract, never that the model is private)."
            if consistent
            else f" WARNING: the heuristic bound exceeds the claimed ε = {record.epsilon:.2f}; one trained model "
            "cannot prove the claim wrong, but it calls for an audit over independent training runs."
        )
    return text


def _sweep(
    context: AuditContext,
    params: PrivacyParams,
    attacks: dict[str, AttackResult],
    twin: ComparedModel | None,
    sweep: list[ComparedModel],
    utility: Utility,
) -> tuple[list[Metric], Table, tuple[LineChart, ...]]:
    """Utility, parity and loss-attack AUC for the audited model, its twin and every sweep model."""
    plain = [a for a in context.plan.attributes if a not in context.plan.intersections]
    loss = attacks.get("loss")
    points = [
        SweepPoint(
            label="audited model",
            epsilon=context.training.privacy.epsilon if context.training.privacy else None,
            key=None,
            mia_auc=loss.auc if loss is not None else None,
            **utility(context.predictions, plain),
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
                **utility(twin.predictions, plain),
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
                mia_auc=loss_auc(context, model) if context.membership is not None else None,
                **utility(model.predictions, plain),
            )
        )
    return sweep_findings(points, plain)


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
