"""Adverse-action reason codes from field attributions (Regulation B, 12 CFR 1002.9(b)(2)).

For an adverse decision, the principal reasons are the fields that pushed the
score furthest toward denial relative to the reference applicant, at most four
(the official commentary: more than four is unlikely to help), each rendered through
the spec's reason map. Sensitive attributes are never given as reasons; when one
would have ranked among the principal reasons, the notice is flagged instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MAX_REASONS = 4


@dataclass(frozen=True)
class ReasonSet:
    """The principal reasons of one adverse decision, and any sensitive field that would have been one."""

    reasons: tuple[int, ...]
    """Field indices, strongest push toward denial first."""
    contributions: tuple[float, ...]
    """Each reason's attribution (negative: toward denial), in P(favourable) units."""
    sensitive: tuple[int, ...]
    """Sensitive fields that would have ranked among the principal reasons: flagged, never given."""


def principal_reasons(
    attributions: np.ndarray,
    *,
    sensitive: Sequence[int],
    max_reasons: int = MAX_REASONS,
    min_contribution: float = 0.0,
) -> ReasonSet:
    """The up to ``max_reasons`` non-sensitive fields with the most negative attribution below
    ``-min_contribution``; ties broken by field order, so reasons are deterministic."""
    order = np.argsort(attributions, kind="stable")
    toward_denial = [int(f) for f in order if attributions[f] < -min_contribution]
    principal = toward_denial[:max_reasons]
    reasons = [f for f in toward_denial if f not in sensitive][:max_reasons]
    return ReasonSet(
        reasons=tuple(reasons),
        contributions=tuple(float(attributions[f]) for f in reasons),
        sensitive=tuple(f for f in principal if f in sensitive),
    )


def reason_text(field: str, reason_map: Mapping[str, str]) -> str:
    """The human-readable reason for a field: from the spec's map, else the column name made readable."""
    return reason_map.get(field) or field.replace("_", " ").capitalize()


def reason_distribution(sets: Sequence[ReasonSet], fields: Sequence[str]) -> list[tuple[str, int, float]]:
    """How often each field is given as a reason: (field, notices, share of notices), most frequent first."""
    counts = Counter(fields[f] for s in sets for f in s.reasons)
    total = max(len(sets), 1)
    return [(field, n, n / total) for field, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
