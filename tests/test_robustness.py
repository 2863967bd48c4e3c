"""Robustness: TextAttack's own recipes and metrics through fmaudit, on a keyword model that typos can fool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmaudit.offline import prepare_textattack
from fmaudit.plugins.robustness import RobustnessParams, _examples, run_recipe, summarise


@pytest.fixture(scope="module")
def keyword_wrapper(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Favourable exactly when the word 'stable' appears intact: one character edit flips it."""
    prepare_textattack(tmp_path_factory.mktemp("nltk"))
    from textattack.models.wrappers import ModelWrapper

    class Keyword(ModelWrapper):  # type: ignore[misc]
        model = None

        def __call__(self, texts):  # type: ignore[no-untyped-def]
            hit = np.array([" stable " in f" {t} " for t in texts], dtype=float)
            return np.stack([1 - 0.9 * hit - 0.05, 0.9 * hit + 0.05], axis=1)

    return Keyword()


def test_deepwordbug_flips_the_keyword_model_and_the_figures_are_textattacks(keyword_wrapper) -> None:  # type: ignore[no-untyped-def]
    dataset = [
        ("income stable and savings high", 1),
        ("employment stable for ten years", 1),
        ("no savings and short employment", 0),
    ]
    results = run_recipe(
        "DeepWordBugGao2018", keyword_wrapper, dataset, RobustnessParams(query_budget=200), progress_bar=False
    )
    figures = summarise(results)
    # The two favourable rows hinge on one word: a typo in it flips them. The third has no word to break.
    assert figures["successful"] == 2 and figures["failed"] == 1 and figures["skipped"] == 0
    assert figures["attack_success_rate"] == pytest.approx(2 / 3, abs=1e-3)  # TextAttack rounds to 0.01%
    assert figures["accuracy_under_attack"] == pytest.approx(1 / 3, abs=1e-3)
    assert figures["original_accuracy"] == 1.0
    rows = _examples("DeepWordBugGao2018", results, limit=5)
    assert len(rows) == 2
    for recipe, original, perturbed, before, after in rows:
        assert recipe == "DeepWordBugGao2018" and "stable" in original and "stable" not in perturbed
        assert before == pytest.approx(0.95) and after == pytest.approx(0.05)


def test_a_misclassified_row_is_skipped_not_attacked(keyword_wrapper) -> None:  # type: ignore[no-untyped-def]
    results = run_recipe(
        "DeepWordBugGao2018",
        keyword_wrapper,
        [("stable income", 0)],
        RobustnessParams(query_budget=50),
        progress_bar=False,
    )
    figures = summarise(results)
    assert (figures["skipped"], figures["attack_success_rate"], figures["avg_queries"]) == (1.0, None, None)


def test_offline_recipes_only() -> None:
    with pytest.raises(ValueError, match="TextFoolerJin2019"):
        RobustnessParams(recipes=["TextFoolerJin2019"])  # type: ignore[list-item]


def test_stopwords_dir_is_reused(tmp_path: Path) -> None:
    prepare_textattack(tmp_path)
    first = (tmp_path / "corpora" / "stopwords" / "english").stat().st_mtime_ns
    prepare_textattack(tmp_path)
    assert (tmp_path / "corpora" / "stopwords" / "english").stat().st_mtime_ns == first
