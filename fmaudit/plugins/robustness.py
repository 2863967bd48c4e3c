"""Adversarial robustness through TextAttack's own recipes and summary metrics.

Each recipe attacks a seeded sample of correctly classified test rows under a
stated query budget. The figures (successful / failed / skipped, accuracy under
attack, success rate, % words perturbed, queries) are TextAttack's own
``AttackSuccessRate``, ``WordsPerturbed`` and ``AttackQueries`` metrics.
Only recipes that run fully offline are offered.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from fmaudit.errors import PluginError
from fmaudit.findings import Better, Metric, PluginFindings, Table
from fmaudit.offline import prepare_textattack
from fmaudit.plugins.base import AuditContext, AuditPlan, AuditPlugin, PluginParams

if TYPE_CHECKING:
    from fmaudit.model import TextClassifier

Recipe = Literal["DeepWordBugGao2018", "Pruthi2019", "InputReductionFeng2018"]
DEFAULT_RECIPES: tuple[Recipe, ...] = ("DeepWordBugGao2018", "Pruthi2019")
FIGURES: dict[str, tuple[str, Better]] = {
    "attack_success_rate": ("Attack success rate", "lower"),
    "accuracy_under_attack": ("Accuracy under attack", "higher"),
    "original_accuracy": ("Original accuracy", "higher"),
    "successful": ("Successful attacks", "lower"),
    "failed": ("Failed attacks", "none"),
    "skipped": ("Skipped attacks", "none"),
    "avg_words_perturbed_pct": ("Average % words perturbed", "none"),
    "avg_queries": ("Average queries", "none"),
}


class RobustnessParams(PluginParams):
    recipes: list[Recipe] = Field(default_factory=lambda: list(DEFAULT_RECIPES), min_length=1)
    samples: int = Field(10, ge=1, description="correctly classified test rows attacked per recipe")
    query_budget: int = Field(500, ge=1, description="model queries allowed per example")
    seed: int = 0
    examples: int = Field(3, ge=0, description="successful perturbations shown in the report")


def make_model_wrapper(classifier: TextClassifier) -> Any:
    """A TextAttack ModelWrapper over our classifier, padding each batch to its longest text.

    TextAttack's stock HuggingFaceModelWrapper pads every query to model_max_length,
    which costs an order of magnitude on CPU.
    """
    from textattack.models.wrappers import ModelWrapper

    class DynamicPaddingWrapper(ModelWrapper):  # type: ignore[misc]
        def __init__(self) -> None:
            self.model = classifier.model

        def __call__(self, text_input_list: Sequence[str]) -> np.ndarray:
            import torch

            return torch.softmax(classifier.logits(list(text_input_list)), dim=-1).numpy()

    return DynamicPaddingWrapper()


@contextlib.contextmanager
def _quiet_textattack(*, progress_bar: bool = True) -> Iterator[None]:
    """TextAttack prints the attack's description to stdout even when silent, draws its progress bar on
    stderr whatever it is told, and its closing summary averages word-level changes with numpy, which
    warns when no success changed a whole word."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        if not progress_bar:
            stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def run_recipe(
    recipe: str, wrapper: Any, dataset: list[tuple[str, int]], params: RobustnessParams, *, progress_bar: bool = True
) -> list[Any]:
    """Attack every example with one TextAttack recipe; return TextAttack's AttackResults."""
    import textattack
    from textattack import attack_recipes
    from textattack.shared.utils import logger as textattack_logger

    previous = textattack_logger.level
    textattack_logger.setLevel(logging.WARNING)  # 'goal function compatible with model' notices
    try:
        with warnings.catch_warnings():
            # For models it does not know, TextAttack warns through the deprecated Logger.warn.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="textattack")
            attack = getattr(attack_recipes, recipe).build(wrapper)
    finally:
        textattack_logger.setLevel(previous)
    args = textattack.AttackArgs(
        num_examples=len(dataset),
        query_budget=params.query_budget,
        random_seed=params.seed,
        shuffle=False,
        silent=True,
        disable_stdout=True,
        enable_advance_metrics=False,  # it reaches the hub after the attack
        checkpoint_interval=None,
    )
    attacker = textattack.Attacker(attack, textattack.datasets.Dataset(dataset), args)
    with _quiet_textattack(progress_bar=progress_bar):
        return list(attacker.attack_dataset())


def summarise(results: list[Any]) -> dict[str, float | None]:
    """TextAttack's own summary figures, as fractions (TextAttack reports percentages)."""
    from textattack.metrics.attack_metrics import AttackQueries, AttackSuccessRate, WordsPerturbed

    rates = AttackSuccessRate().calculate(results)
    attempted = rates["successful_attacks"] + rates["failed_attacks"]
    queries = AttackQueries().calculate(results) if attempted else {}
    with _quiet_textattack():
        words = WordsPerturbed().calculate(results)
    words_pct = float(words["avg_word_perturbed_perc"])
    return {
        "attack_success_rate": rates["attack_success_rate"] / 100 if attempted else None,
        "accuracy_under_attack": rates["attack_accuracy_perc"] / 100,
        "original_accuracy": rates["original_accuracy"] / 100,
        "successful": float(rates["successful_attacks"]),
        "failed": float(rates["failed_attacks"]),
        "skipped": float(rates["skipped_attacks"]),
        "avg_words_perturbed_pct": words_pct if math.isfinite(words_pct) else None,
        "avg_queries": float(queries["avg_num_queries"]) if attempted else None,
    }


class RobustnessPlugin(AuditPlugin[RobustnessParams]):
    name = "robustness"
    title = "Adversarial robustness"
    Params = RobustnessParams

    def metric_paths(self, params: RobustnessParams, plan: AuditPlan) -> list[str]:
        return [f"robustness.{recipe}.{figure}" for recipe in params.recipes for figure in FIGURES]

    def check(self, params: RobustnessParams, plan: AuditPlan) -> list[str]:
        if plan.model_kind != "text":
            return [f"recipes: TextAttack recipes attack text; got model.kind: {plan.model_kind} (remove this audit)"]
        return []

    def run(self, context: AuditContext, params: RobustnessParams) -> PluginFindings:
        from fmaudit.model import TextClassifier

        if not isinstance(context.model, TextClassifier):
            raise PluginError(f"robustness: TextAttack attacks text; the audited model is {context.model.kind}")
        prepare_textattack(context.work_dir / "nltk_data")
        preds = context.predictions
        correct = np.flatnonzero(preds.decisions == preds.labels)
        rng = np.random.default_rng(params.seed)
        chosen = np.sort(rng.choice(correct, size=min(params.samples, len(correct)), replace=False))
        dataset = [(context.data.texts[preds.row_ids[i]], int(preds.labels[i])) for i in chosen]
        wrapper = make_model_wrapper(context.model)

        metrics: list[Metric] = []
        summary_rows: list[tuple[Any, ...]] = []
        example_rows: list[tuple[Any, ...]] = []
        for recipe in params.recipes:
            context.say(f"robustness: {recipe} on {len(dataset)} rows, query budget {params.query_budget}")
            started = time.perf_counter()
            results = run_recipe(recipe, wrapper, dataset, params, progress_bar=context.show_progress)
            seconds = time.perf_counter() - started
            figures = summarise(results)
            metrics += [
                Metric(
                    f"robustness.{recipe}.{f}",
                    figures[f],
                    f"{label} ({recipe})",
                    better,
                    note="" if figures[f] is not None else "no attack was attempted or succeeded",
                )
                for f, (label, better) in FIGURES.items()
            ]
            summary_rows.append((recipe, *(figures[f] for f in FIGURES), round(seconds / max(len(dataset), 1), 2)))
            example_rows += _examples(recipe, results, params.examples)
        success = {row[0]: row[1] for row in summary_rows}
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary=(
                f"{len(params.recipes)} TextAttack recipe(s) on {len(dataset)} correctly classified test rows, "
                f"query budget {params.query_budget} per example: "
                + "; ".join(f"{r} succeeded on {_pct(s)}" for r, s in success.items())
                + "."
            ),
            metrics=tuple(metrics),
            tables=(
                Table(
                    title="TextAttack summary",
                    columns=("Recipe", *(label for label, _ in FIGURES.values()), "Seconds / example"),
                    rows=tuple(summary_rows),
                    note=f"Seeded sample (seed {params.seed}) of correctly classified test rows, so original "
                    "accuracy is 100% by construction. A smaller query budget lowers the success rate: "
                    "the verdict holds for this budget only.",
                ),
                Table(
                    title="Example perturbations that flipped the decision",
                    columns=("Recipe", "Original", "Perturbed", "P(favourable) before", "after"),
                    rows=tuple(example_rows),
                ),
            ),
            notes=(
                "Character-level recipes (DeepWordBug: swaps, deletions, insertions of characters; Pruthi: keyboard "
                "typos) model noisy or adversarial input, not changes to the applicant's facts.",
            ),
        )


def _examples(recipe: str, results: list[Any], limit: int) -> list[tuple[Any, ...]]:
    from textattack.attack_results import SuccessfulAttackResult

    rows: list[tuple[Any, ...]] = []
    for result in results:
        if isinstance(result, SuccessfulAttackResult) and len(rows) < limit:
            original, perturbed = result.original_result, result.perturbed_result
            rows.append(
                (
                    recipe,
                    original.attacked_text.text,
                    perturbed.attacked_text.text,
                    float(original.raw_output[1]),
                    float(perturbed.raw_output[1]),
                )
            )
    return rows


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{float(value):.0%}"
