"""Findings for the gaps to the reference group: metric paths, notes that name the pair and the undefined
share, and the one family of tests the report names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from fmaudit.families.fairness import attribute
from fmaudit.families.fairness.params import REFERENCE_FIGURES
from fmaudit.families.fairness.reference_gaps import (
    comparisons,
    disparity_note,
    family_note,
    figure_note,
    gap_table,
    undefined_note,
)
from tests.support.fairness import run, synthetic


def test_every_reference_figure_has_a_label() -> None:
    assert tuple(REFERENCE_FIGURES) == attribute.REFERENCE_FIGURES


def test_notes_say_what_a_group_figure_is_measured_against() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups, attribute="sex", min_size=100)  # c (77 rows) is excluded
    assert figure_note(audit, "a", "selection_rate_difference", 0.0) == "reference group"
    assert figure_note(audit, "a", "selection_rate", 0.5) == ""
    assert figure_note(audit, "b", "selection_rate_ratio", 0.5) == ""
    assert figure_note(audit, "c", "selection_rate_ratio", None).startswith("insufficient data")
    table = gap_table(audit, 0.95)
    assert [row[0] for row in table.rows] == ["b"] and "'a' (the largest group)" in table.note
    ratio = table.rows[0][3]
    rates = audit.by_group["selection_rate"]
    assert ratio.value == pytest.approx(rates["b"] / rates["a"]) and ratio.ci_low < ratio.value < ratio.ci_high
    excluded = run(labels, decisions, scores, groups, attribute="sex", min_size=100, reference="c")
    assert figure_note(excluded, "a", "tpr_difference", None).startswith("no reference group to compare with")
    assert "The declared reference 'c' is excluded" in figure_note(excluded, "a", "tpr_difference", None)


def test_an_undefined_share_above_one_percent_is_shown() -> None:
    assert undefined_note(0.01) == "" and undefined_note(float("nan")) == ""
    assert undefined_note(0.0485).startswith("undefined in 4.9% of resamples")
    groups = pd.Series(["a"] * 960 + ["c"] * 40)
    labels = np.r_[np.tile([0, 1], 480), np.ones(3, dtype=int), np.zeros(37, dtype=int)]
    audit = run(labels, labels, labels.astype(float), groups, attribute="x", n_boot=2000)
    assert figure_note(audit, "c", "tpr_difference", 0.0).startswith("undefined in")
    assert figure_note(audit, "c", "tpr", 1.0).startswith("undefined in")
    assert figure_note(audit, "c", "selection_rate_difference", 0.0) == ""
    assert "undefined in" in disparity_note(audit, "equal_opportunity_difference")
    assert gap_table(audit, 0.95).rows[0][-1].startswith("undefined in")


def test_disparity_notes_name_the_estimates_pair_and_the_simultaneous_interval() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups)
    assert disparity_note(audit, "demographic_parity_ratio") == (
        "estimate: selection rate of b over a; interval: simultaneous over every pair of compared groups "
        "(max-T bootstrap, Westfall & Young 1993), so as to cover the true extreme whichever pair it is "
        "(3 pairs of 3 compared groups)"
    )
    assert disparity_note(audit, "demographic_parity_difference").startswith("estimate: selection rate of a minus b")
    assert disparity_note(audit, "equalized_odds_difference").endswith(
        "(3 pairs of 3 compared groups, TPR and FPR together)"
    )
    two = run(labels, decisions, scores, groups, min_size=100)  # c (77 rows) is excluded
    assert disparity_note(two, "demographic_parity_ratio").endswith("(1 pair of 2 compared groups)")


def test_the_family_is_every_group_against_its_reference_over_all_attributes() -> None:
    labels, decisions, scores, groups = synthetic(900)
    first = run(labels, decisions, scores, groups, attribute="one")
    second = run(labels, decisions, scores, groups, attribute="two", reference="c")
    tests = comparisons([first, second], method="holm")
    assert [(t.attribute, t.group, t.reference) for t in tests] == [
        ("one", "b", "a"),
        ("one", "c", "a"),
        ("two", "a", "c"),
        ("two", "b", "c"),
    ]
    sizes = groups.value_counts()
    selected = pd.Series(decisions).groupby(groups).sum()
    raw = [
        proportions_ztest([selected[t.group], selected[t.reference]], [sizes[t.group], sizes[t.reference]])[1]
        for t in tests
    ]
    assert [t.p_value for t in tests] == pytest.approx(raw)
    assert [t.p_adjusted for t in tests] == pytest.approx(multipletests(raw, method="holm")[1])
    assert "family of 4 tests" in family_note([first, second], tests, "holm")
    assert "one: a (largest), two: c (declared)" in family_note([first, second], tests, "holm")
