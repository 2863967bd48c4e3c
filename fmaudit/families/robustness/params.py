"""The robustness plugin's parameters (``audits.robustness``): recipes, budgets and domain constraints."""

from __future__ import annotations

from collections import Counter

from pydantic import Field, ValidationInfo, field_validator

from fmaudit.core.findings import Better, metric_key
from fmaudit.families.robustness.recipe_spec import BUILTIN_RECIPES, CustomRecipe, Kind
from fmaudit.spec import PluginParams

FIGURES: dict[str, tuple[str, Better]] = {
    "attack_success_rate": ("Attack success rate", "lower"),
    "accuracy_under_attack": ("Accuracy under attack", "higher"),
    "original_accuracy": ("Original accuracy", "higher"),
    "successful": ("Successful attacks", "lower"),
    "failed": ("Failed attacks (search exhausted)", "none"),
    "budget_exhausted": ("Attacks stopped by the query budget", "none"),
    "skipped": ("Skipped (misclassified before the attack)", "none"),
    "not_attacked": ("Not attacked within the time cap", "none"),
    "avg_words_perturbed_pct": ("Average % words perturbed", "none"),
    "avg_queries": ("Average queries", "none"),
}
"""Per-recipe figures; the rates and averages are TextAttack's own metrics over the attacked examples."""
GROUP_FIGURES: dict[str, tuple[str, Better]] = {
    "attack_success_rate": ("Attack success rate", "lower"),
    "accuracy_under_attack": ("Accuracy under attack", "higher"),
}
CELLS = ("skipped", "succeeded", "failed")
"""Per-group outcome counts; 'failed' includes attacks stopped by the budget, as TextAttack counts them."""

DEFAULT_RECIPES = ("DeepWordBugGao2018", "Pruthi2019")


class DomainConstraints(PluginParams):
    """What an attack may not change: a perturbation that changes the facts is a different applicant."""

    protect_template: bool = Field(True, description="never modify the serialisation template's own words")
    protect_fields: list[str] | None = Field(
        None, description="template fields never modified; default: sensitive attributes' columns and numeric columns"
    )
    protect_numbers: bool = Field(True, description="never modify a word containing a digit (amounts, ranges, ages)")
    reject_antonyms: bool = Field(True, description="reject word swaps to a WordNet antonym (needs WordNet)")


class RobustnessParams(PluginParams):
    custom_recipes: dict[str, CustomRecipe] = Field(
        default_factory=dict, description="name -> recipe assembled from TextAttack components"
    )
    recipes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RECIPES),
        min_length=1,
        description=f"built-in ({', '.join(BUILTIN_RECIPES)}) or names from custom_recipes",
    )
    samples: int = Field(10, ge=1, description="seeded sample of test rows attacked by every recipe")
    query_budget: int = Field(500, ge=1, description="model queries allowed per example")
    time_limit: float | None = Field(
        None, gt=0, description="wall-clock seconds per recipe; examples not begun by then are not attacked"
    )
    constraints: DomainConstraints = DomainConstraints()
    workers: int | None = Field(None, ge=1, description="attack processes (one thread each); default one per CPU")
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples behind the per-group intervals")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    examples: int = Field(3, ge=0, description="successful attacks per recipe shown highlighted")

    @field_validator("custom_recipes")
    @classmethod
    def _custom_names(cls, custom: dict[str, CustomRecipe]) -> dict[str, CustomRecipe]:
        problems = [f"{n!r} shadows a built-in recipe" for n in custom if n in BUILTIN_RECIPES]
        problems += [f"{n!r} cannot be part of a metric path" for n in custom if metric_key(n) != n]
        if problems:
            raise ValueError("; ".join(problems))
        return custom

    @field_validator("recipes")
    @classmethod
    def _known_recipes(cls, recipes: list[str], info: ValidationInfo) -> list[str]:
        known = [*BUILTIN_RECIPES, *info.data.get("custom_recipes", {})]
        problems = [f"unknown recipe {n!r}; expected one of: {', '.join(known)}" for n in recipes if n not in known]
        problems += [f"recipe {n!r} listed twice" for n, k in Counter(recipes).items() if k > 1]
        if problems:
            raise ValueError("; ".join(problems))
        return recipes

    def kind(self, recipe: str) -> Kind:
        custom = self.custom_recipes.get(recipe)
        return custom.kind if custom is not None else BUILTIN_RECIPES[recipe].kind
