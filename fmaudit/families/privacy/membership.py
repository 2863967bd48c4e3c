"""Membership inference: does a model give away which rows it was trained on?

The audit draws balanced, seeded sets of members (training rows) and non-members
(held-out rows) and runs two attacks on each model's per-example loss:

- **loss threshold** (Yeom et al. 2018): a lower loss means "member";
- **difficulty-calibrated** (Watson et al. 2022): the target's loss minus a reference
  model's loss on the same row, so rows that are simply easy do not look like members.

Reference-model protocol: the reference trains with the audited model's own settings on
the training rows that were *not* drawn as members. It has therefore seen none of the
audited rows, members or non-members, and both sets are "out" for it, as the offline
calibrated attack requires; it sees fewer rows than the target (its losses run slightly
high), which shifts both sets alike and leaves the ranking, hence AUC, meaningful.

Figures: ROC AUC with a bootstrap interval (members and non-members resampled separately),
balanced accuracy and the empirical epsilon bound at a threshold chosen on one seeded half
of each set and measured on the other, and TPR at low FPR (Carlini et al. 2022, "Membership
Inference Attacks From First Principles"). The epsilon lower bound follows Jagielski et al.
2020 / Nasr et al. 2021: for any (ε, δ)-DP training, TPR <= e^ε FPR + δ and
1 - FPR <= e^ε FNR + δ, so ε >= max(ln((TPR - δ) / FPR), ln((1 - δ - FPR) / FNR)),
evaluated with one-sided Clopper-Pearson bounds (TPR from below, FPR and FNR from above),
each at half the error level, and over the attacks at once (Bonferroni: the report reads
their maximum), so it never claims more than the held-out half shows.

That confidence is over the draw of the audited members from one trained model and one
split, not over training runs: Jagielski et al. 2020 count independent training runs, and a
one-run audit needs random inclusion of canaries (Steinke, Nasr & Jagielski 2023). The bound
is therefore reported as a heuristic, and its "EXCEEDS ε" check as a warning, not a proof.
TPR at a low FPR gets a bootstrap interval (at FPR 1% of 300 non-members it rests on 3 false
positives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fmaudit.core.intervals import percentile_interval, row_weights, stream
from fmaudit.families.privacy.params import PrivacyParams
from fmaudit.plugins.context import AuditContext, ComparedModel, Predictions

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier

LOW_FPRS = (0.01, 0.001)
"""False-positive rates at which the attack's true-positive rate is reported."""
LOSS_FLOOR = 1e-12


def example_losses(p_favourable: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy of each row's true label, from the model's P(favourable)."""
    p_true = np.where(np.asarray(labels) == 1, p_favourable, 1.0 - np.asarray(p_favourable))
    return -np.log(np.clip(p_true, LOSS_FLOOR, 1.0))


@dataclass(frozen=True)
class AttackResult:
    """One attack's figures on one model; higher attack scores mean 'member'."""

    attack: str
    members: int
    non_members: int
    auc: float
    auc_low: float | None
    auc_high: float | None
    balanced_accuracy: float
    tpr_at_fpr: dict[float, float | None]
    """TPR at each of LOW_FPRS; None when there are too few non-members to measure that FPR."""
    tpr_at_fpr_interval: dict[float, tuple[float | None, float | None]]
    """Bootstrap interval of each TPR at LOW_FPRS (members and non-members resampled separately)."""
    epsilon_lower_bound: float
    confidence: float
    roc_fpr: tuple[float, ...]
    roc_tpr: tuple[float, ...]


def weighted_auc(
    member_scores: np.ndarray,
    non_member_scores: np.ndarray,
    member_weights: np.ndarray,
    non_member_weights: np.ndarray,
) -> np.ndarray:
    """ROC AUC (ties count one half) for each row of weights: P(member score > non-member score).

    Weights of shape ``(k, n)`` give k bootstrap resamples at once; weights of ones give the plain AUC.
    """
    values = np.unique(np.concatenate([member_scores, non_member_scores]))
    member_pos = np.searchsorted(values, member_scores)
    non_member_pos = np.searchsorted(values, non_member_scores)
    per_value = np.zeros((non_member_weights.shape[0], len(values)))
    for j, pos in enumerate(non_member_pos):  # n columns, each a vector add over the k resamples
        per_value[:, pos] += non_member_weights[:, j]
    credit = np.cumsum(per_value, axis=1) - 0.5 * per_value  # non-members strictly below, plus half the ties
    wins = (member_weights * credit[:, member_pos]).sum(axis=1)
    return wins / (member_weights.sum(axis=1) * non_member_weights.sum(axis=1))


def evaluate_attack(
    attack: str,
    member_scores: np.ndarray,
    non_member_scores: np.ndarray,
    *,
    delta: float,
    n_boot: int,
    confidence: float,
    seed: int,
    attacks: int = 1,
) -> AttackResult:
    """All figures of one attack from its scores on the member and non-member sets; the ε bound holds jointly
    over ``attacks`` attacks (each at 1/attacks of the error level)."""
    from sklearn.metrics import roc_curve

    member_scores = np.asarray(member_scores, dtype=np.float64)
    non_member_scores = np.asarray(non_member_scores, dtype=np.float64)
    m, n = len(member_scores), len(non_member_scores)
    auc = float(weighted_auc(member_scores, non_member_scores, np.ones((1, m)), np.ones((1, n)))[0])
    # Separate streams: the number of resamples must not decide which rows fit and which measure the threshold.
    rng, split_rng = stream(seed, f"privacy.mia.{attack}.auc"), stream(seed, f"privacy.mia.{attack}.halves")
    low = high = None
    measurable = [level for level in LOW_FPRS if n >= math.ceil(1 / level)]
    tpr_intervals: dict[float, tuple[float | None, float | None]] = {level: (None, None) for level in LOW_FPRS}
    if n_boot > 0:
        # Members and non-members are resampled separately, keeping the sets balanced; the sets are small
        # (hundreds of rows), so all resamples' weights fit in memory at once.
        member_weights = np.concatenate(list(row_weights(m, n_boot=n_boot, rng=rng)))
        non_member_weights = np.concatenate(list(row_weights(n, n_boot=n_boot, rng=rng)))
        samples = weighted_auc(member_scores, non_member_scores, member_weights, non_member_weights)
        interval = percentile_interval(samples, level=confidence)
        low, high = interval.low, interval.high
        for level in measurable:
            resampled = weighted_tpr_at_fpr(member_scores, non_member_scores, member_weights, non_member_weights, level)
            tpr_interval = percentile_interval(resampled, level=confidence)
            tpr_intervals[level] = (tpr_interval.low, tpr_interval.high)

    labels = np.r_[np.ones(m), np.zeros(n)]
    fpr, tpr, _ = roc_curve(labels, np.r_[member_scores, non_member_scores])
    tpr_at = {level: (float(tpr[fpr <= level].max()) if level in measurable else None) for level in LOW_FPRS}
    fit_m, eval_m = _halves(m, split_rng)
    fit_n, eval_n = _halves(n, split_rng)
    balanced = _balanced_accuracy_held_out(
        member_scores[fit_m], non_member_scores[fit_n], member_scores[eval_m], non_member_scores[eval_n]
    )
    epsilon = _epsilon_lower_bound(
        member_scores[fit_m],
        non_member_scores[fit_n],
        member_scores[eval_m],
        non_member_scores[eval_n],
        delta=delta,
        confidence=1.0 - (1.0 - confidence) / attacks,
    )
    return AttackResult(
        attack=attack,
        members=m,
        non_members=n,
        auc=auc,
        auc_low=low,
        auc_high=high,
        balanced_accuracy=balanced,
        tpr_at_fpr=tpr_at,
        tpr_at_fpr_interval=tpr_intervals,
        epsilon_lower_bound=epsilon,
        confidence=confidence,
        roc_fpr=tuple(float(x) for x in fpr),
        roc_tpr=tuple(float(y) for y in tpr),
    )


def weighted_tpr_at_fpr(
    member_scores: np.ndarray,
    non_member_scores: np.ndarray,
    member_weights: np.ndarray,
    non_member_weights: np.ndarray,
    level: float,
) -> np.ndarray:
    """Per row of weights (a resample), the largest TPR at a threshold whose FPR is at most ``level``: members
    scoring strictly above the highest non-member score the FPR budget cannot include."""
    order = np.argsort(-non_member_scores, kind="stable")
    descending = non_member_scores[order]
    cumulative = np.cumsum(non_member_weights[:, order], axis=1) / non_member_weights.sum(axis=1, keepdims=True)
    # Per resample, the first non-member (from the top) whose inclusion would exceed the budget; ties at that
    # score are excluded with it, so the threshold is that score and members must lie strictly above it.
    over = cumulative > level + 1e-12
    first = np.where(over.any(axis=1), over.argmax(axis=1), len(descending) - 1)
    threshold = np.where(over.any(axis=1), descending[first], -np.inf)
    above = member_scores[None, :] > threshold[:, None]
    return (member_weights * above).sum(axis=1) / member_weights.sum(axis=1)


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of ``range(n)`` into a half that picks thresholds and a half that measures them."""
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def _rates(members: np.ndarray, non_members: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of members (true positives) and non-members (false positives) scoring >= each threshold."""
    tp = len(members) - np.searchsorted(np.sort(members), thresholds, side="left")
    fp = len(non_members) - np.searchsorted(np.sort(non_members), thresholds, side="left")
    return tp, fp


def _balanced_accuracy_held_out(
    fit_members: np.ndarray, fit_non: np.ndarray, eval_members: np.ndarray, eval_non: np.ndarray
) -> float:
    """Balanced accuracy on the measuring half at the threshold that maximises it on the fitting half."""
    thresholds = np.unique(np.r_[fit_members, fit_non, np.inf])
    tp, fp = _rates(fit_members, fit_non, thresholds)
    best = thresholds[int(np.argmax(tp / len(fit_members) - fp / len(fit_non)))]
    tp_eval, fp_eval = _rates(eval_members, eval_non, np.array([best]))
    return float(0.5 * (tp_eval[0] / len(eval_members) + 1.0 - fp_eval[0] / len(eval_non)))


def _epsilon_lower_bound(
    fit_members: np.ndarray,
    fit_non: np.ndarray,
    eval_members: np.ndarray,
    eval_non: np.ndarray,
    *,
    delta: float,
    confidence: float,
) -> float:
    """ε implied, with ``confidence``, by the attack at a threshold picked on the fitting half (0 if none)."""
    from scipy.stats import beta

    thresholds = np.unique(np.r_[fit_members, fit_non])
    tp, fp = _rates(fit_members, fit_non, thresholds)
    # Pick the threshold with the largest smoothed point bound; the smoothing only guides the choice.
    tpr, fpr = (tp + 0.5) / (len(fit_members) + 1), (fp + 0.5) / (len(fit_non) + 1)
    point = np.maximum(np.log(tpr / fpr), np.log((1 - fpr) / (1 - tpr)))
    threshold = thresholds[int(np.argmax(point))]
    tp_eval, fp_eval = (int(x[0]) for x in _rates(eval_members, eval_non, np.array([threshold])))
    m, n = len(eval_members), len(eval_non)
    alpha = (1.0 - confidence) / 2  # two statements (one per inequality), each at half the error level
    tpr_low = float(beta.ppf(alpha, tp_eval, m - tp_eval + 1)) if tp_eval > 0 else 0.0
    fpr_high = float(beta.ppf(1 - alpha, fp_eval + 1, n - fp_eval)) if fp_eval < n else 1.0
    bounds = [0.0]
    if tpr_low - delta > 0 and fpr_high > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    if 1 - delta - fpr_high > 0 and 1 - tpr_low > 0:
        bounds.append(math.log((1 - delta - fpr_high) / (1 - tpr_low)))
    return max(bounds)


def _scores(
    context: AuditContext, model: Classifier, rows: np.ndarray, predictions: Predictions | None = None
) -> np.ndarray:
    """P(favourable) of ``model`` on ``rows``, reusing its test-split predictions where they cover the rows."""
    if predictions is not None:
        position = {int(r): i for i, r in enumerate(predictions.row_ids)}
        if all(int(r) in position for r in rows):
            return predictions.scores[[position[int(r)] for r in rows]]
    return model.predict_rows(context.data, rows)


def audit_attacks(context: AuditContext, params: PrivacyParams) -> dict[str, AttackResult]:
    """Both attacks on the audited model (the calibrated one when a reference model was trained)."""
    inputs = context.membership
    assert inputs is not None
    sets, data = inputs.sets, context.data
    labels_m, labels_n = data.labels[sets.members], data.labels[sets.non_members]
    loss_m = example_losses(_scores(context, context.model, sets.members, context.predictions), labels_m)
    loss_n = example_losses(_scores(context, context.model, sets.non_members, context.predictions), labels_n)
    delta = _delta(context)

    attacks = 2 if inputs.reference is not None else 1

    def attack(name: str, member_scores: np.ndarray, non_member_scores: np.ndarray) -> AttackResult:
        return evaluate_attack(
            name,
            member_scores,
            non_member_scores,
            delta=delta,
            n_boot=params.n_boot,
            confidence=params.confidence,
            seed=params.seed,
            attacks=attacks,
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


def loss_auc(context: AuditContext, model: ComparedModel) -> float:
    """The loss attack's AUC on a sweep model (no interval: the curve shows the trend)."""
    assert context.membership is not None
    sets, labels = context.membership.sets, context.data.labels
    loss_m = example_losses(_scores(context, model.model, sets.members), labels[sets.members])
    loss_n = example_losses(
        _scores(context, model.model, sets.non_members, model.predictions), labels[sets.non_members]
    )
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(loss_m)), np.zeros(len(loss_n))], -np.r_[loss_m, loss_n]))
