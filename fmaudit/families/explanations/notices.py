"""An adverse-action notice for every adverse decision (Regulation B, 12 CFR 1002.9(b)(2)), by occlusion of
whole fields through the model's public scoring API, each notice's reasons checked two ways.

Each field of an adversely decided row in turn takes the reference applicant's value; the row is re-scored
(a text model reads it re-serialised through the template). A field's contribution is the score with the
applicant's own value minus the score with the reference value, as Captum's ``FeatureAblation`` defines it:
negative pushes toward denial. All rows x fields go through ``predict_records`` in large batches, about one
forward pass per field per row (a field already at the reference value needs none: its contribution is 0).
The principal reasons are chosen as for every notice (``reasons.principal_reasons``).

Comparing the reasons with random fields would tell little: they were picked as the strongest single
replacements, so they beat random fields for an additive model by construction, and for about half the
notices of a model whose score is a hash of the record. Each notice's reasons are checked against the best
alternative and by a second attribution method instead:

1. the reasons replaced together must raise P(favourable), at least as much as the next-best fields by
   occlusion rank replaced together (as many as the reasons, or as many as remain);
2. Shapley value sampling on the same record (Castro, Gomez & Tejada 2009; Captum's ``ShapleyValueSampling``
   with the fields as groups) must find every reason pushing toward denial. A walk starts from the
   applicant's record and replaces the non-sensitive fields by the reference applicant's values one by one in
   a seeded order (a stream keyed by the row, so a notice does not depend on the other rows scored with it);
   a field's marginal is the score before its replacement minus after, averaged over ``shapley_orders`` walks.

An additive model passes both by construction (its Shapley values are its occlusion contributions); for a
hash-scored model the second is a coin flip per reason. Each walk scores one record per non-sensitive field
that differs from the reference, in the same large batches as the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from fmaudit.core.intervals import stream
from fmaudit.families.explanations.reasons import ReasonSet, principal_reasons

if TYPE_CHECKING:
    from fmaudit.metrics.association import Association
    from fmaudit.models.base import Classifier

NOTICE_BATCH = 512
"""Records scored per ``predict_records`` call (the model batches further inside)."""

Variant = tuple[int, tuple[int, ...]]
"""A row (its position among the records) with some fields (indices) set to the reference applicant's values."""


@dataclass(frozen=True)
class Notice:
    """One adverse decision's notice: its principal reasons, their check, and any reason that may be a proxy."""

    row: int
    score: float
    """The decision's P(favourable)."""
    reasons: ReasonSet
    reasons_rise: float | None
    """Score rise when the reasons take the reference applicant's values together (None: no reason)."""
    next_best_rise: float | None
    """Score rise when the next-best fields by occlusion, as many as the reasons, take them together (0: no
    other field differs from the reference applicant; None: no reason)."""
    shapley: tuple[float, ...]
    """Each reason's Shapley value by permutation sampling, in the reasons' order (negative: toward denial)."""
    proxies: tuple[Association, ...]
    """The reasons' associations with a sensitive attribute above the proxy threshold, in the reasons' order."""

    @property
    def shapley_agrees(self) -> bool | None:
        """Does Shapley value sampling find every reason pushing toward denial? None: no reason."""
        return all(value < 0 for value in self.shapley) if self.reasons.reasons else None

    @property
    def faithful(self) -> bool | None:
        """Do the reasons together raise the score, at least as much as the next-best fields, and does Shapley
        value sampling agree on every reason? None: no reason to check."""
        if self.reasons_rise is None or self.next_best_rise is None:
            return None
        return self.reasons_rise > 0 and self.reasons_rise >= self.next_best_rise and bool(self.shapley_agrees)


@dataclass(frozen=True)
class NoticeSettings:
    """How reasons are chosen and checked (from the plugin's parameters)."""

    sensitive: tuple[int, ...]
    max_reasons: int
    min_contribution: float
    shapley_orders: int
    seed: int
    proxies: Mapping[int, tuple[Association, ...]]
    """Field index -> its associations with sensitive attributes above the proxy threshold."""


def score_variants(
    model: Classifier,
    records: Sequence[Mapping[str, object]],
    reference: Mapping[str, object],
    fields: Sequence[str],
    variants: Sequence[Variant],
    *,
    template: str,
    batch: int = NOTICE_BATCH,
    progress: Any = None,
) -> np.ndarray:
    """P(favourable) of each variant, ``batch`` records per call of the model's public scoring API."""
    scores = []
    for start in range(0, len(variants), batch):
        part = variants[start : start + batch]
        changed = [{**records[k], **{fields[f]: reference[fields[f]] for f in replaced}} for k, replaced in part]
        scores.append(np.asarray(model.predict_records(changed, template=template), dtype=np.float64))
        if progress is not None:
            progress.update(len(part))
    return np.concatenate(scores) if scores else np.zeros(0)


def occlusion(
    model: Classifier,
    records: Sequence[Mapping[str, object]],
    reference: Mapping[str, object],
    fields: Sequence[str],
    *,
    template: str,
    batch: int = NOTICE_BATCH,
    progress: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's own score, and the field contributions (rows x fields): the own score minus the score with
    one field at the reference applicant's value; 0 without scoring where the row already holds that value."""
    variants: list[Variant] = []
    for k, record in enumerate(records):
        variants.append((k, ()))
        variants += [(k, (f,)) for f, field in enumerate(fields) if not _same(record[field], reference[field])]
    scores = score_variants(
        model, records, reference, fields, variants, template=template, batch=batch, progress=progress
    )
    rows = np.array([k for k, _ in variants], dtype=int)
    own = np.zeros(len(records))
    replaced = np.array([bool(r) for _, r in variants], dtype=bool)
    own[rows[~replaced]] = scores[~replaced]
    contributions = np.zeros((len(records), len(fields)))
    columns = np.array([r[0] for _, r in variants if r], dtype=int)
    contributions[rows[replaced], columns] = own[rows[replaced]] - scores[replaced]
    return own, contributions


def _same(value: object, reference: object) -> bool:
    """Whether a row's value already is the reference applicant's (then replacing it changes nothing)."""
    try:
        return bool(value == reference)
    except (TypeError, ValueError):
        return False


def adverse_notices(
    model: Classifier,
    records: Sequence[Mapping[str, object]],
    rows: Sequence[int],
    scores: Sequence[float],
    reference: Mapping[str, object],
    fields: Sequence[str],
    settings: NoticeSettings,
    *,
    template: str,
    batch: int = NOTICE_BATCH,
    progress: Any = None,
) -> list[Notice]:
    """A notice for each record (an adverse decision: its row id and decision score), reasons by occlusion,
    each checked against the next-best fields and by Shapley sampling. ``progress`` (tqdm-like) counts the
    records scored."""
    own, contributions = occlusion(model, records, reference, fields, template=template, batch=batch, progress=progress)
    reason_sets = [
        principal_reasons(
            contributions[k],
            sensitive=settings.sensitive,
            max_reasons=settings.max_reasons,
            min_contribution=settings.min_contribution,
        )
        for k in range(len(records))
    ]
    for reason_set in reason_sets:
        if set(reason_set.reasons) & set(settings.sensitive):  # never, by construction: guarded all the same
            raise AssertionError(f"a sensitive field was chosen as a reason: {reason_set}")
    plans = [
        _plan(record, reason_set, contributions[k], reference, fields, settings, row=int(row))
        for k, (record, reason_set, row) in enumerate(zip(records, reason_sets, rows, strict=True))
    ]
    # Every check's variants of every notice, each distinct one scored once: a walk's last step (all walked
    # fields replaced) is the same in every walk, and a walk's prefix can be the reasons or the next-best set.
    wanted = list(dict.fromkeys(v for k, plan in enumerate(plans) if plan is not None for v in plan.variants(k)))
    checked = score_variants(
        model, records, reference, fields, wanted, template=template, batch=batch, progress=progress
    )
    scored = dict(zip(wanted, checked.tolist(), strict=True))

    def score(k: int, replaced: Sequence[int]) -> float:
        """P(favourable) of record ``k`` with the ``replaced`` fields at the reference values (scored above)."""
        return scored[_variant(k, replaced)] if replaced else float(own[k])

    notices = []
    for k, (row, reason_set, plan) in enumerate(zip(rows, reason_sets, plans, strict=True)):
        proxies = tuple(a for f in reason_set.reasons for a in settings.proxies.get(f, ()))
        if plan is None:
            notices.append(Notice(int(row), float(scores[k]), reason_set, None, None, (), proxies))
            continue
        at = partial(score, k)
        shapley = plan.shapley(at)
        notices.append(
            Notice(
                int(row),
                float(scores[k]),
                reason_set,
                reasons_rise=at(reason_set.reasons) - at(()),
                next_best_rise=at(plan.next_best) - at(()),
                shapley=tuple(shapley[f] for f in reason_set.reasons),
                proxies=proxies,
            )
        )
    return notices


@dataclass(frozen=True)
class _Plan:
    """What one notice's check scores: the next-best fields, and the orders of its Shapley walks."""

    reasons: tuple[int, ...]
    next_best: tuple[int, ...]
    walks: tuple[tuple[int, ...], ...]

    def variants(self, k: int) -> list[Variant]:
        """The record ``k`` with the reasons, the next-best fields, and every prefix of every walk replaced."""
        sets = [self.reasons, *([self.next_best] if self.next_best else [])]
        sets += [walk[: i + 1] for walk in self.walks for i in range(len(walk))]
        return [_variant(k, s) for s in sets]

    def shapley(self, score: Callable[[Sequence[int]], float]) -> dict[int, float]:
        """Each walked field's mean marginal over the walks: the score before its replacement minus after
        (negative: toward denial); ``score`` maps the fields replaced to P(favourable)."""
        totals: dict[int, float] = dict.fromkeys(self.walks[0], 0.0)
        for walk in self.walks:
            before = score(())
            for i, f in enumerate(walk):
                after = score(walk[: i + 1])
                totals[f] += before - after
                before = after
        return {f: total / len(self.walks) for f, total in totals.items()}


def _plan(
    record: Mapping[str, object],
    reason_set: ReasonSet,
    contributions: np.ndarray,
    reference: Mapping[str, object],
    fields: Sequence[str],
    settings: NoticeSettings,
    *,
    row: int,
) -> _Plan | None:
    """The check of one notice (None: no reason to check). Both draw on the non-sensitive fields that differ
    from the reference applicant's (replacing any other changes nothing): the next-best are the strongest of
    them by occlusion after the reasons, as many as the reasons; the walks are seeded orders of all of them,
    from a stream keyed by the row, so a notice does not depend on the other rows scored with it."""
    if not reason_set.reasons:
        return None
    walked = [
        f for f, name in enumerate(fields) if f not in settings.sensitive and not _same(record[name], reference[name])
    ]
    ranked = [int(f) for f in np.argsort(contributions, kind="stable") if f in walked]
    next_best = [f for f in ranked if f not in reason_set.reasons][: len(reason_set.reasons)]
    rng = stream(settings.seed, "explanations.notice_shapley", row)
    walks = tuple(tuple(int(f) for f in rng.permutation(walked)) for _ in range(settings.shapley_orders))
    return _Plan(reason_set.reasons, tuple(next_best), walks)


def _variant(k: int, replaced: Sequence[int]) -> Variant:
    """Record ``k`` with ``replaced`` fields at the reference values; the same set in any order is one variant."""
    return k, tuple(sorted(replaced))
