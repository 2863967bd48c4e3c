"""Gates: parsing, evaluation on point estimates and interval bounds, unknown metric paths."""

from __future__ import annotations

import pytest

from fmaudit.core.errors import SpecError
from fmaudit.core.findings import Metric
from fmaudit.metrics.gates import check_gate_paths, evaluate, parse_gate


@pytest.mark.parametrize(
    ("text", "value", "passed"),
    [
        ("m.x >= 0.5", 0.5, True),
        ("m.x > 0.5", 0.5, False),
        ("m.x <= 1e-1", 0.1, True),
        ("m.x < -2", -3.0, True),
        ("m.x == 3", 3.0, True),
        ("m.x == 3", 3.5, False),
    ],
)
def test_operators(text: str, value: float, passed: bool) -> None:
    [result] = evaluate([parse_gate(text)], {"m.x": Metric("m.x", value, "x")})
    assert result.passed is passed
    assert result.observed == value


def test_gate_on_an_interval_bound_reads_the_bound() -> None:
    metric = Metric("fairness.sex.demographic_parity_ratio", 0.9, "r", ci_low=0.7, ci_high=1.0)
    gate = parse_gate("fairness.sex.demographic_parity_ratio.ci_low >= 0.8")
    assert gate.metric_path == "fairness.sex.demographic_parity_ratio" and gate.bound == "ci_low"
    [result] = evaluate([gate], {metric.path: metric})
    assert (result.observed, result.passed) == (0.7, False)


def test_a_failing_gate_says_what_it_read_and_what_it_missed() -> None:
    ratio = Metric(
        "fairness.sex.demographic_parity_ratio", 0.89, "Demographic parity ratio", ci_low=0.7508, ci_high=1.03
    )
    auc = Metric("performance.roc_auc", 0.58, "ROC AUC")
    metrics = {ratio.path: ratio, auc.path: auc}
    bound, point, passing = evaluate(
        [
            parse_gate("fairness.sex.demographic_parity_ratio.ci_low >= 0.8"),
            parse_gate("performance.roc_auc > 0.6"),
            parse_gate("performance.roc_auc <= 0.6"),
        ],
        metrics,
    )
    assert bound.reason == (
        "Demographic parity ratio: the interval's low end 0.7508 (estimate 0.89 [0.7508, 1.03]) is below 0.8"
    )
    assert point.reason == "ROC AUC 0.58 is not above 0.6"
    assert passing.passed and passing.reason == ""


def test_unmeasured_metric_fails_its_gate_with_the_reason() -> None:
    metric = Metric("privacy.epsilon", None, "eps", note="trained without DP-SGD")
    [result] = evaluate([parse_gate("privacy.epsilon <= 8")], {metric.path: metric})
    assert not result.passed and result.observed is None and result.reason == "trained without DP-SGD"


def test_unknown_metric_path_is_a_spec_error_with_suggestions() -> None:
    with pytest.raises(SpecError) as caught:
        check_gate_paths(
            [parse_gate("performance.rocauc >= 0.7")], ["performance.roc_auc", "performance.f1"], where="s.yaml"
        )
    [line] = caught.value.problems
    assert line == (
        "s.yaml: gates: 'performance.rocauc >= 0.7' names unknown metric 'performance.rocauc'; "
        "did you mean: performance.roc_auc"
    )


def test_a_wrong_last_part_is_answered_with_the_figures_beside_it() -> None:
    known = ["fairness.sex.demographic_parity_ratio", "fairness.sex.equalized_odds_difference", "fairness.sex.x.y"]
    with pytest.raises(SpecError) as caught:
        check_gate_paths([parse_gate("fairness.sex.dp_ratio >= 0.8")], known, where="s.yaml")
    [line] = caught.value.problems
    assert line.endswith(
        "did you mean: fairness.sex.demographic_parity_ratio, fairness.sex.equalized_odds_difference"
    ), line
    with pytest.raises(SpecError, match="run 'fmaudit plugins SPEC' to list"):
        check_gate_paths([parse_gate("nothing.like.it >= 0")], known, where="s.yaml")


def test_bound_suffix_is_checked_against_the_metric_path() -> None:
    """``.ci_low``/``.ci_high`` name a bound of the metric before them: the gate is known exactly when it is."""
    for bound in ("ci_low", "ci_high"):
        gate = parse_gate(f"performance.roc_auc.{bound} >= 0.7")
        assert check_gate_paths([gate], ["performance.roc_auc"], where="s.yaml") is None
        with pytest.raises(SpecError) as caught:  # the bound of a metric no plugin produces is as unknown as it
            check_gate_paths([gate], ["performance.f1", "performance.roc_auc.ci_low"], where="s.yaml")
        [line] = caught.value.problems
        assert line.startswith(
            f"s.yaml: gates: 'performance.roc_auc.{bound} >= 0.7' names unknown metric 'performance.roc_auc'; "
        ), line
    # Any other last part is part of the path, not a bound: 'performance.roc_auc.low' is a metric of its own.
    with pytest.raises(SpecError, match="names unknown metric 'performance.roc_auc.low'"):
        check_gate_paths([parse_gate("performance.roc_auc.low >= 0.7")], ["performance.roc_auc"], where="s.yaml")


def test_malformed_gate() -> None:
    with pytest.raises(SpecError, match="is not of the form"):
        parse_gate("roc_auc is good")
