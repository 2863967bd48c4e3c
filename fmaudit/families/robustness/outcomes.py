"""Read attack outcomes: TextAttack's own summary figures per recipe, attack success and accuracy under
attack per sensitive group with bootstrap intervals, and what the successful perturbations changed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmaudit.core.findings import finite
from fmaudit.core.intervals import Interval, group_intervals, resample_cell_counts
from fmaudit.families.robustness.constraints import word_fields
from fmaudit.families.robustness.params import CELLS
from fmaudit.families.robustness.workers import Outcome


def recipe_figures(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """TextAttack's AttackSuccessRate, WordsPerturbed and AttackQueries over the examples attacked (or skipped),
    with the outcome counts; rates are fractions (TextAttack reports percentages)."""
    from textattack.metrics.attack_metrics import AttackQueries, AttackSuccessRate, WordsPerturbed

    from fmaudit.families.robustness.recipes import quiet_textattack

    counts = Counter(o.status for o in outcomes)
    figures: dict[str, float | None] = {
        "successful": counts["succeeded"],  # counts stay ints, so the report prints 0 not 0.000
        "failed": counts["failed"],
        "budget_exhausted": counts["budget exhausted"],
        "skipped": counts["skipped"],
        "not_attacked": counts["not attacked"],
        "attack_success_rate": None,
        "accuracy_under_attack": None,
        "original_accuracy": None,
        "avg_words_perturbed_pct": None,
        "avg_queries": None,
    }
    results = [o.result for o in outcomes if o.result is not None]
    if not results:
        return figures
    rates = AttackSuccessRate().calculate(results)
    # TextAttack rounds its percentages to two decimals.
    figures["accuracy_under_attack"] = round(rates["attack_accuracy_perc"] / 100, 4)
    figures["original_accuracy"] = round(rates["original_accuracy"] / 100, 4)
    if rates["successful_attacks"] + rates["failed_attacks"]:
        figures["attack_success_rate"] = round(rates["attack_success_rate"] / 100, 4)
        figures["avg_queries"] = float(AttackQueries().calculate(results)["avg_num_queries"])
        with quiet_textattack():
            figures["avg_words_perturbed_pct"] = finite(WordsPerturbed().calculate(results)["avg_word_perturbed_perc"])
    return figures


def attack_proportions(counts: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Success (of attacked) and accuracy under attack (of all) as events and trials, from counts
    ``(..., groups, CELLS)``."""
    skipped, succeeded, failed = (counts[..., i].astype(np.float64) for i in range(len(CELLS)))
    return {
        "attack_success_rate": (succeeded, succeeded + failed),
        "accuracy_under_attack": (failed, skipped + succeeded + failed),
    }


def attack_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Success rate and accuracy under attack (``attack_proportions``); NaN where a group has none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {name: events / trials for name, (events, trials) in attack_proportions(counts).items()}


@dataclass(frozen=True)
class GroupRates:
    """One attribute's per-group attack figures with percentile bootstrap intervals."""

    attribute: str
    groups: list[str]
    counts: np.ndarray
    """Shape (groups, CELLS)."""
    values: dict[str, np.ndarray]
    intervals: dict[str, list[Interval]]

    def attacked(self, g: int) -> int:
        return int(self.counts[g, 1:].sum())


def group_rates(
    outcomes: Sequence[Outcome],
    groups: Mapping[int, str],
    *,
    attribute: str,
    names: list[str],
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> GroupRates:
    """Per-group figures over the attacked (or skipped) examples; ``groups`` maps row id -> group.

    The intervals resample the attacked sample (the fairness plugin's multinomial bootstrap of cell counts).
    """
    rows = [o for o in outcomes if o.status != "not attacked"]
    names = list(dict.fromkeys([*names, *sorted({groups[o.row] for o in rows})]))
    cell = {"skipped": 0, "succeeded": 1, "failed": 2, "budget exhausted": 2}
    counts = np.zeros((len(names), len(CELLS)), dtype=np.int64)
    for o in rows:
        counts[names.index(groups[o.row]), cell[o.status]] += 1
    values = attack_rates(counts)
    if n_boot > 0 and counts.sum() > 0:
        intervals = group_intervals(
            attack_rates(resample_cell_counts(counts, n_boot=n_boot, rng=rng)),
            level=confidence,
            proportions=attack_proportions(counts),
        )
    else:
        intervals = {f: [Interval(None, None, 1.0)] * len(names) for f in values}
    return GroupRates(attribute=attribute, groups=names, counts=counts, values=values, intervals=intervals)


@dataclass(frozen=True)
class Change:
    """One word an attack changed (by its index among the original's words) and the template field it is in."""

    index: int
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Flip:
    """A successful attack: what changed, and the score before and after."""

    recipe: str
    row: int
    original: str
    perturbed: str
    changes: tuple[Change, ...]
    score_before: float
    score_after: float
    """P(favourable decision)."""


def flips(recipe: str, outcomes: Sequence[Outcome], spans: Mapping[int, Mapping[str, tuple[int, int]]]) -> list[Flip]:
    """Every successful attack of a recipe with its word changes mapped to template fields."""
    found = []
    for outcome in outcomes:
        if outcome.status != "succeeded":
            continue
        original = outcome.result.original_result.attacked_text
        perturbed = outcome.result.perturbed_result.attacked_text
        fields = word_fields(original.text, original.words, spans[outcome.row])
        changed = sorted(i for i in original.all_words_diff(perturbed) if i < min(len(fields), len(perturbed.words)))
        found.append(
            Flip(
                recipe=recipe,
                row=outcome.row,
                original=original.text,
                perturbed=perturbed.text,
                changes=tuple(Change(i, fields[i], original.words[i], perturbed.words[i]) for i in changed),
                score_before=float(outcome.result.original_result.raw_output[1]),
                score_after=float(outcome.result.perturbed_result.raw_output[1]),
            )
        )
    return found


def most_perturbed(
    found: Sequence[Flip], *, limit: int
) -> tuple[list[tuple[str, int, int]], list[tuple[str, str, int, str]]]:
    """Fields by successful attacks touching them (with words changed), and words by times changed
    (with their field and replacements seen)."""
    attacks_per_field: Counter[str] = Counter()
    words_per_field: Counter[str] = Counter()
    word_count: Counter[tuple[str, str]] = Counter()
    replacements: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for flip in found:
        attacks_per_field.update({c.field for c in flip.changes})
        for change in flip.changes:
            words_per_field[change.field] += 1
            key = (change.before.lower(), change.field)
            word_count[key] += 1
            replacements[key][change.after] += 1
    fields = [(f, n, words_per_field[f]) for f, n in _most_common(attacks_per_field, limit)]
    words = [
        (word, field, n, ", ".join(r for r, _ in _most_common(replacements[(word, field)], 3)))
        for (word, field), n in _most_common(word_count, limit)
    ]
    return fields, words


def _most_common(counts: Counter[Any], limit: int) -> list[tuple[Any, int]]:
    """Most frequent first, ties in sorted order (a Counter filled from a set would order them by string
    hashes, which change from one process to the next)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
