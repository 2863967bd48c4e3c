"""Membership inference: the sets, the AUC against scikit-learn, and the two behaviours the issue asks for —
a model that memorised its training rows is caught, an untrained one is not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neural_network import MLPClassifier

from fmaudit.families.privacy.membership import evaluate_attack, example_losses, weighted_auc, weighted_tpr_at_fpr
from fmaudit.plugins.context import draw_sets


def test_sets_are_balanced_disjoint_and_leave_the_reference_rows_untouched() -> None:
    train, held_out = np.arange(0, 700), np.arange(700, 1000)
    sets = draw_sets(train, held_out, size=500, seed=3)
    assert len(sets.members) == len(sets.non_members) == 300  # all the held-out rows, at most half the train rows
    assert set(sets.members) <= set(train) and set(sets.non_members) <= set(held_out)
    assert set(sets.reference_rows) == set(train) - set(sets.members)
    assert len(draw_sets(train, held_out, size=50, seed=3).members) == 50
    again = draw_sets(train, held_out, size=500, seed=3)
    assert np.array_equal(again.members, sets.members)


def test_auc_equals_scikit_learn_with_ties_and_bootstrap_weights_reproduce_it() -> None:
    rng = np.random.default_rng(0)
    members = np.round(rng.normal(0.4, 1, 120), 1)  # rounded: many ties
    non_members = np.round(rng.normal(0, 1, 80), 1)
    expected = roc_auc_score(np.r_[np.ones(120), np.zeros(80)], np.r_[members, non_members])
    assert weighted_auc(members, non_members, np.ones((1, 120)), np.ones((1, 80)))[0] == pytest.approx(expected)
    # A weight vector is a resample: counting row i twice equals repeating it.
    weights_m = rng.integers(0, 3, (1, 120))
    weights_n = rng.integers(0, 3, (1, 80))
    resampled = roc_auc_score(
        np.r_[np.ones(weights_m.sum()), np.zeros(weights_n.sum())],
        np.r_[np.repeat(members, weights_m[0]), np.repeat(non_members, weights_n[0])],
    )
    assert weighted_auc(members, non_members, weights_m, weights_n)[0] == pytest.approx(resampled)


def test_losses_are_the_cross_entropy_of_the_true_label() -> None:
    losses = example_losses(np.array([0.9, 0.9, 0.0]), np.array([1, 0, 1]))
    assert losses[:2] == pytest.approx([-np.log(0.9), -np.log(0.1)])
    assert np.isfinite(losses[2]) and losses[2] > 20


def _synthetic(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features with random labels: nothing to learn, so any member advantage is memorisation."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 20)), rng.integers(0, 2, rows)


def _attack(p_members: np.ndarray, y_members: np.ndarray, p_non: np.ndarray, y_non: np.ndarray):  # type: ignore[no-untyped-def]
    return evaluate_attack(
        "loss",
        -example_losses(p_members, y_members),
        -example_losses(p_non, y_non),
        delta=1e-5,
        n_boot=500,
        confidence=0.95,
        seed=0,
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # memorising is the point
def test_a_model_that_memorised_its_training_rows_is_caught() -> None:
    x_train, y_train = _synthetic(200, seed=1)
    x_out, y_out = _synthetic(200, seed=2)
    model = MLPClassifier(hidden_layer_sizes=(128,), learning_rate_init=0.01, max_iter=400, tol=1e-6, random_state=0)
    model.fit(x_train, y_train)  # many epochs on 200 rows with random labels: memorisation only
    result = _attack(model.predict_proba(x_train)[:, 1], y_train, model.predict_proba(x_out)[:, 1], y_out)
    assert result.auc > 0.8 and result.auc_low is not None and result.auc_low > 0.7
    assert result.balanced_accuracy > 0.7
    assert result.epsilon_lower_bound > 1.0  # a real, confidence-backed bound from 100 held-out rows per side
    assert result.tpr_at_fpr[0.01] is not None and result.tpr_at_fpr[0.001] is None  # 200 non-members < 1,000


def test_an_untrained_model_is_at_chance_within_its_interval() -> None:
    x_train, y_train = _synthetic(300, seed=3)
    x_out, y_out = _synthetic(300, seed=4)
    weights = np.random.default_rng(5).normal(size=20)  # a fixed random model: it never saw any row

    def scores(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-x @ weights))

    result = _attack(scores(x_train), y_train, scores(x_out), y_out)
    assert result.auc_low is not None and result.auc_high is not None
    assert result.auc_low < 0.5 < result.auc_high
    assert abs(result.auc - 0.5) < 0.06
    assert result.epsilon_lower_bound < 0.5


def test_the_empirical_bound_never_exceeds_what_the_held_out_half_can_show() -> None:
    """A perfect attack on 50 held-out rows per side still bounds epsilon only by what 50 rows can show."""
    result = evaluate_attack(
        "loss", np.full(100, 1.0), np.full(100, 0.0), delta=1e-5, n_boot=0, confidence=0.95, seed=0
    )
    assert result.auc == 1.0 and result.auc_low is None
    # Clopper-Pearson at 97.5% one-sided on 50/50: FPR <= 0.071, TPR >= 0.929 -> ln(0.929 / 0.071) ~ 2.57
    assert result.epsilon_lower_bound == pytest.approx(2.57, abs=0.02)


def test_the_held_out_figures_do_not_depend_on_the_number_of_bootstrap_resamples() -> None:
    rng = np.random.default_rng(3)
    members, non_members = rng.normal(0.3, 1, 300), rng.normal(0, 1, 300)
    results = [
        evaluate_attack("loss", members, non_members, delta=1e-5, n_boot=n_boot, confidence=0.95, seed=0)
        for n_boot in (0, 200, 1000)
    ]
    assert len({r.balanced_accuracy for r in results}) == 1
    assert len({r.epsilon_lower_bound for r in results}) == 1


def test_the_bound_read_over_two_attacks_holds_jointly() -> None:
    """The report reads the larger of two attacks' bounds: each is taken at half the error level (Bonferroni),
    which for a perfect attack on 50 rows per side means 98.75% one-sided Clopper-Pearson bounds."""
    perfect = {"delta": 1e-5, "n_boot": 0, "confidence": 0.95, "seed": 0}
    alone = evaluate_attack("loss", np.full(100, 1.0), np.full(100, 0.0), **perfect)  # type: ignore[arg-type]
    joint = evaluate_attack("loss", np.full(100, 1.0), np.full(100, 0.0), attacks=2, **perfect)  # type: ignore[arg-type]
    # 0 of 50 false positives: FPR <= 1 - 0.0125^(1/50) at one-sided 98.75%, TPR >= its complement.
    fpr_high = 1 - 0.0125 ** (1 / 50)
    assert joint.epsilon_lower_bound == pytest.approx(np.log((1 - fpr_high - 1e-5) / fpr_high), abs=1e-6)
    assert joint.epsilon_lower_bound < alone.epsilon_lower_bound


@pytest.mark.parametrize("level", [0.01, 0.05])
def test_tpr_at_low_fpr_equals_scikit_learn_and_gets_an_interval(level: float) -> None:
    rng = np.random.default_rng(4)
    members, non_members = np.round(rng.normal(0.8, 1, 300), 1), np.round(rng.normal(0, 1, 300), 1)  # ties
    fpr, tpr, _ = roc_curve(np.r_[np.ones(300), np.zeros(300)], np.r_[members, non_members])
    ones = weighted_tpr_at_fpr(members, non_members, np.ones((1, 300)), np.ones((1, 300)), level)
    assert ones[0] == pytest.approx(tpr[fpr <= level].max())
    # A weight vector is a resample: counting rows twice equals repeating them.
    weights_m, weights_n = rng.integers(0, 3, (1, 300)), rng.integers(0, 3, (1, 300))
    fpr, tpr, _ = roc_curve(
        np.r_[np.ones(weights_m.sum()), np.zeros(weights_n.sum())],
        np.r_[np.repeat(members, weights_m[0]), np.repeat(non_members, weights_n[0])],
    )
    resampled = weighted_tpr_at_fpr(members, non_members, weights_m, weights_n, level)
    assert resampled[0] == pytest.approx(tpr[fpr <= level].max())
    result = evaluate_attack("loss", members, non_members, delta=1e-5, n_boot=500, confidence=0.95, seed=0)
    if level in result.tpr_at_fpr:
        low, high = result.tpr_at_fpr_interval[level]
        assert low is not None and high is not None and low < result.tpr_at_fpr[level] < high  # type: ignore[operator]
        assert high - low > 0.05  # 3 false positives of 300 pin the threshold loosely
