"""Is selection parity established? Each compared group's selection rate over the reference group's is tested
for equivalence with a declared margin: two one-sided tests (Schuirmann 1987; Wellek 2010) of ratio <= m and
ratio >= 1/m. Parity is established at level alpha when both reject, that is when the (1 − 2·alpha) interval
of the ratio lies inside [m, 1/m].

Counting rejections of "no gap" (``significant_gaps``) cannot establish parity: a test that does not reject
is absence of evidence, and it fails to reject more often the more comparisons are corrected for and the
smaller the groups. Here the burden is the other way: small groups and more groups make parity harder to
establish.

The tests are Miettinen & Nurminen's (1985) score tests for a ratio of two proportions, statsmodels'
``tost_proportions_2indep(compare="ratio", method="score")``: closed form, so a verdict does not move with the
bootstrap seed and exists with ``n_boot: 0``. Their size stays near alpha down to groups of 20 rows (at most
5.7% at alpha 0.05, computed exactly over groups of 20–200 rows, references of 100–1000, rates 0.2–0.9), where
Katz's log (Wald) test reaches 13% (20 rows selected at 0.72 against a reference at 0.9) and a bootstrap
percentile interval collapses to a point at 0 or n selections. A group with no selections cannot establish
parity; a reference with none leaves every ratio undefined (None, which fails a gate).

An attribute's parity holds when every compared group's does: an intersection–union test (Berger 1982), of
level alpha with no multiplicity correction, because the joint claim is false as soon as one group's is and
each group's test already bounds the chance of wrongly establishing that group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fmaudit.families.fairness.attribute import AttributeAudit
from fmaudit.families.fairness.significance import VersusReference


@dataclass(frozen=True)
class Equivalence(VersusReference):
    """One group's selection-rate ratio to the reference, tested for equivalence with [margin, 1/margin]."""

    p_value: float
    """The larger of the two one-sided p-values; NaN where the ratio is undefined."""
    established: bool | None
    """Whether both one-sided tests reject at alpha; None where the ratio is undefined."""

    @property
    def ratio(self) -> float:
        """The group's selection rate over the reference's; NaN where the reference has no selections."""
        return self.rate / self.reference_rate if self.reference_selected else float("nan")


def equivalence_p_values(
    selected: ArrayLike, n: ArrayLike, reference_selected: ArrayLike, reference_n: ArrayLike, *, margin: float
) -> np.ndarray:
    """TOST p-values that ``rate / reference rate`` lies inside ``(margin, 1 / margin)``, for arrays of counts:
    1 where the group has no selections, NaN where the reference has none."""
    from statsmodels.stats.proportion import tost_proportions_2indep

    selected, reference_selected = np.asarray(selected), np.asarray(reference_selected)
    with np.errstate(divide="ignore", invalid="ignore"):
        tost = tost_proportions_2indep(
            selected, n, reference_selected, reference_n, margin, 1 / margin, method="score", compare="ratio"
        )
    p_values = np.where(selected == 0, 1.0, np.asarray(tost.pvalue, dtype=np.float64))
    return np.where(reference_selected == 0, np.nan, p_values)


def equivalence_tests(audit: AttributeAudit, *, margin: float, alpha: float) -> list[Equivalence]:
    """Every compared group other than the reference, tested against it; none without a compared reference."""
    tests = []
    for pair in audit.versus_reference():
        p_value = float(
            equivalence_p_values(pair.selected, pair.n, pair.reference_selected, pair.reference_n, margin=margin)
        )
        verdict = bool(p_value < alpha) if np.isfinite(p_value) else None
        tests.append(Equivalence(**dataclasses.asdict(pair), p_value=p_value, established=verdict))
    return tests


def all_established(tests: Sequence[Equivalence]) -> bool | None:
    """The intersection–union verdict over an attribute's groups: False as soon as one group's parity is not
    established, True when every group's is, None when there is no group to test or a ratio is undefined."""
    verdicts = [t.established for t in tests]
    if False in verdicts:
        return False
    if not verdicts or None in verdicts:
        return None
    return True


def group_note(test: Equivalence, *, margin: float, alpha: float) -> str:
    """What one group's verdict rests on: the ratio, the margin, the tests and their p-value."""
    if test.established is None:
        return f"the reference group {test.reference} has no selections: the ratio is undefined"
    verdict = "established" if test.established else "not established"
    return (
        f"selection-rate ratio {test.ratio:.3f} to {test.reference}; two one-sided score tests against "
        f"[{margin:g}, {1 / margin:.4g}] at {alpha:g}: p = {test.p_value:.3g}, {verdict}"
    )


def attribute_note(audit: AttributeAudit, tests: Sequence[Equivalence], *, margin: float, alpha: float) -> str:
    """What the attribute's verdict claims: every compared group, each tested at alpha, none corrected for."""
    if audit.reference is None or audit.reference in audit.excluded:
        return "no reference group to compare with"
    if not tests:
        return "no compared group besides the reference"
    held = sum(t.established is True for t in tests)
    text = (
        f"established for {held} of {len(tests)} groups compared with {audit.reference}: an intersection–union "
        f"test (Berger 1982), parity only if every group's two one-sided tests reject at {alpha:g} against "
        f"[{margin:g}, {1 / margin:.4g}]; a claim about all groups at once needs no multiplicity correction"
    )
    if audit.excluded:
        text += "; not compared: " + ", ".join(f"{g} ({why})" for g, why in audit.excluded.items())
    return text
