"""The monitor's figures on generated samples, cross-checked against the libraries that define them: fairlearn's
demographic parity ratio, scikit-learn's ROC AUC, the selection rates and their change by counting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio
from sklearn.metrics import roc_auc_score

from fmaudit.core.findings import Metric
from fmaudit.engine.monitor_figures import Sample, monitor_findings
from fmaudit.spec import MonitorSpec

SETTINGS = MonitorSpec(n_boot=200, min_group_size=30)


def sample(seed: int, n: int, *, shift: float = 0.0, b_penalty: float = 0.0) -> Sample:
    """Two groups, a numeric and a categorical field; scores follow the numeric field, labels the scores."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], size=n, p=[0.6, 0.4])
    amount = rng.normal(shift, 1.0, size=n)
    scores = 1 / (1 + np.exp(-(amount - b_penalty * (group == "b"))))
    return Sample(
        fields=pd.DataFrame({"amount": amount, "purpose": rng.choice(["car", "tv", "business"], size=n)}),
        scores=scores,
        labels=(rng.random(n) < scores).astype(np.int64),
        groups=pd.DataFrame({"sex": group}),
    )


def unlabelled(labelled: Sample) -> Sample:
    """The sample without labels: only the score-only figures (and no slow performance bootstrap)."""
    return replace(labelled, labels=None)


def figures(reference: Sample, current: Sample) -> dict[str, Metric]:
    section = monitor_findings(reference, current, settings=SETTINGS, threshold=0.5)
    return {m.path: m for m in section.metrics}


def test_parity_rates_and_auc_match_the_libraries_that_define_them() -> None:
    reference, current = sample(0, 600), sample(1, 900, b_penalty=1.5)
    found = figures(reference, current)
    decisions = (current.scores >= 0.5).astype(int)
    expected = demographic_parity_ratio(current.labels, decisions, sensitive_features=current.groups["sex"])
    assert found["monitor.fairness.sex.demographic_parity_ratio"].value == pytest.approx(expected)
    before = demographic_parity_ratio(
        reference.labels, (reference.scores >= 0.5).astype(int), sensitive_features=reference.groups["sex"]
    )
    change = found["monitor.fairness.sex.demographic_parity_ratio.change"]
    assert change.value == pytest.approx(expected - before) and change.value < -0.2
    assert change.ci_high is not None and change.ci_high < 0  # group b's penalty is a real fall in parity
    rate_b = decisions[current.groups["sex"] == "b"].mean()
    assert found["monitor.fairness.sex.groups.b.selection_rate"].value == pytest.approx(rate_b)
    assert found["monitor.performance.roc_auc"].value == pytest.approx(roc_auc_score(current.labels, current.scores))
    auc = found["monitor.performance.roc_auc"]
    assert auc.ci_low is not None and auc.ci_high is not None and auc.ci_low < auc.value < auc.ci_high


def test_two_samples_of_one_distribution_show_no_shift_but_a_moved_field_does() -> None:
    reference = unlabelled(sample(0, 800))
    same = figures(reference, unlabelled(sample(1, 800)))
    amount = same["monitor.fields.amount.psi"]
    assert 0 < amount.value < 0.1 and amount.ci_low == 0.0  # sampling noise alone: the bound says no shift
    moved = figures(reference, unlabelled(sample(2, 800, shift=1.0)))
    assert moved["monitor.fields.amount.psi"].ci_low > 0.25  # a one-sd shift of the mean
    assert moved["monitor.score.psi"].ci_low > 0.1  # the score follows the field
    assert moved["monitor.fields.purpose.psi"].ci_low == 0.0
    assert moved["monitor.score.selection_rate.change"].value > 0.2


def test_a_category_the_reference_never_had_is_a_bin_of_its_own() -> None:
    reference = unlabelled(sample(0, 500))
    current = unlabelled(sample(1, 500))
    current.fields.loc[:99, "purpose"] = "crypto"
    section = monitor_findings(reference, current, settings=SETTINGS, threshold=0.5)
    fields = next(t for t in section.tables if t.title.startswith("Stability"))
    assert fields.rows[0][0] == "purpose" and fields.rows[0][3] == "shifted"
    # 20% in a bin the reference holds none of (share floored at 1e-4) dominates the index.
    psi = next(m for m in section.metrics if m.path == "monitor.fields.purpose.psi").value
    assert psi == pytest.approx(0.2 * np.log(0.2 / 1e-4), rel=0.15)
