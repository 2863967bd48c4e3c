"""An adverse-action notice for every adverse decision (Regulation B, 12 CFR 1002.9(b)(2)), by occlusion of
whole fields through the model's public scoring API.

Each field of an adversely decided row in turn takes the reference applicant's value; the row is re-scored
(a text model reads it re-serialised through the template). A field's contribution is the score with the
applicant's own value minus the score with the reference value, as Captum's ``FeatureAblation`` defines it:
negative pushes toward denial. All rows x fields go through ``predict_records`` in large batches, about one
forward pass per field per row (a field already at the reference value needs none: its contribution is 0).
The principal reasons are chosen as for every notice (``reasons.principal_reasons``); each notice is then
checked: its reasons set together to the reference values must raise the score more than as many other
non-sensitive fields drawn at random (from a stream keyed by the row, so a notice does not depend on the
other rows scored with it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fmaudit.core.intervals import stream
from fmaudit.families.explanations.reasons import ReasonSet, principal_reasons

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier

NOTICE_BATCH = 512
"""Records scored per ``predict_records`` call (the model batches further inside)."""

Variant = tuple[int, tuple[int, ...]]
"""A row (its position among the records) with some fields (indices) set to the reference applicant's values."""


@dataclass(frozen=True)
class Notice:
    """One adverse decision's notice: its principal reasons and the check of them."""

    row: int
    score: float
    """The decision's P(favourable)."""
    reasons: ReasonSet
    reasons_rise: float | None
    """Score rise when the reasons take the reference applicant's values together (None: no reason)."""
    random_rise: float | None
    """Mean score rise over random sets of as many other non-sensitive fields (None: none to draw)."""

    @property
    def faithful(self) -> bool | None:
        """Do the reasons move the score toward favourable more than random fields? None: not checkable."""
        if self.reasons_rise is None or self.random_rise is None:
            return None
        return self.reasons_rise > self.random_rise


@dataclass(frozen=True)
class NoticeSettings:
    """How reasons are chosen and checked (from the plugin's parameters)."""

    sensitive: tuple[int, ...]
    max_reasons: int
    min_contribution: float
    random_sets: int
    seed: int


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
    each checked against random fields. ``progress`` (tqdm-like) counts the records scored."""
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
    checks: list[Variant] = []
    n_random = []
    for k, (row, reason_set) in enumerate(zip(rows, reason_sets, strict=True)):
        if not reason_set.reasons:
            n_random.append(0)
            continue
        others = [f for f in range(len(fields)) if f not in settings.sensitive and f not in reason_set.reasons]
        rng = stream(settings.seed, "explanations.reason_deletion", int(row))
        size = min(len(reason_set.reasons), len(others))
        drawn = [
            tuple(int(f) for f in rng.choice(others, size=size, replace=False)) for _ in range(settings.random_sets)
        ]
        drawn = drawn if size else []
        checks += [(k, reason_set.reasons), *((k, d) for d in drawn)]
        n_random.append(len(drawn))
    checked = score_variants(
        model, records, reference, fields, checks, template=template, batch=batch, progress=progress
    )
    notices, position = [], 0
    for k, (row, reason_set) in enumerate(zip(rows, reason_sets, strict=True)):
        reasons_rise = random_rise = None
        if reason_set.reasons:
            randoms = checked[position + 1 : position + 1 + n_random[k]]
            reasons_rise = float(checked[position] - own[k])
            random_rise = float((randoms - own[k]).mean()) if len(randoms) else None
            position += 1 + n_random[k]
        notices.append(Notice(int(row), float(scores[k]), reason_set, reasons_rise, random_rise))
    return notices
