"""Findings for the gaps to the reference group: metric paths, notes that name the pair and the undefined
share, and the one family of tests the report names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from fmaudit.fairness.attribute import REFERENCE_FIGURES
from fmaudit.fairness.reference_gaps import (
    REFERENCE_LABELS,
    comparisons,
    disparity_note,
    family_note,
    gap_table,
    reference_metrics,
    reference_paths,
    undefined_note,
)
from tests.test_fairness import run, synthetic


def test_every_reference_figure_has_a_label() -> None:
    assert tuple(REFERENCE_LABELS) == REFERENCE_FIGURES


def test_metrics_are_the_declared_paths_and_say_what_the_reference_is() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups, attribute="sex", min_size=100)  # c (77 rows) is excluded
    metrics = {m.path: m for m in reference_metrics(audit)}
    assert list(metrics) == reference_paths("sex", ["a", "b", "c"])
    ratio = metrics["fairness.sex.groups.b.selection_rate_ratio"]
    rates = audit.by_group["selection_rate"]
    assert ratio.value == pytest.approx(rates["b"] / rates["a"]) and ratio.ci_low < ratio.value < ratio.ci_high
    assert "reference a" in ratio.label and ratio.note == ""
    assert metrics["fairness.sex.groups.a.selection_rate_difference"].value == 0.0
    assert metrics["fairness.sex.groups.a.selection_rate_difference"].note == "reference group"
    assert metrics["fairness.sex.groups.c.selection_rate_ratio"].value is None
    assert metrics["fairness.sex.groups.c.selection_rate_ratio"].note.startswith("insufficient data")
    table = gap_table(audit, 0.95)
    assert [row[0] for row in table.rows] == ["b"] and "'a' (the largest group)" in table.note


def test_an_undefined_share_above_one_percent_is_shown() -> None:
    assert undefined_note(0.01) == "" and undefined_note(float("nan")) == ""
    assert undefined_note(0.0485).startswith("undefined in 4.9% of resamples")
    groups = pd.Series(["a"] * 960 + ["c"] * 40)
    labels = np.r_[np.tile([0, 1], 480), np.ones(3, dtype=int), np.zeros(37, dtype=int)]
    audit = run(labels, labels, labels.astype(float), groups, attribute="x", n_boot=2000)
    metrics = {m.path: m for m in reference_metrics(audit)}
    assert metrics["fairness.x.groups.c.tpr_difference"].note.startswith("undefined in")
    assert metrics["fairness.x.groups.c.selection_rate_difference"].note == ""
    assert "undefined in" in disparity_note(audit, "equal_opportunity_difference")


def test_disparity_notes_name_the_fixed_pair() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups)
    assert disparity_note(audit, "demographic_parity_ratio").startswith(
        "interval: selection rate of b over a, the pair"
    )
    assert disparity_note(audit, "demographic_parity_difference").startswith("interval: selection rate of a minus b")


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
