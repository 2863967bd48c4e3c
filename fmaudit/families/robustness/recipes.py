"""Build TextAttack ``Attack`` objects: TextAttack's own recipes, or recipes assembled from named
components, each with fmaudit's domain constraints added and every post-transformation constraint counted.

Import after ``fmaudit.core.offline.prepare_textattack``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from fmaudit.families.robustness.constraints import Counted, NoAntonymSwap, ProtectedWords
from fmaudit.families.robustness.recipe_spec import (
    BUILTIN_RECIPES,
    CustomRecipe,
    Resource,
    recipe_definition,
    recipe_resources,
)

CONSTRAINT_MODULES = (
    "textattack.constraints.pre_transformation",
    "textattack.constraints.overlap",
    "textattack.constraints.semantics",
)
EMBEDDING_COMPONENTS = {"WordSwapEmbedding", "WordEmbeddingDistance"}


@dataclass
class Resources:
    """Offline resources for the recipes: what is ready, and why the rest is not."""

    glove: Any = None
    """A TextAttack WordEmbedding over GloVe, when available."""
    missing: dict[Resource, str] = field(default_factory=dict)
    """Resource -> why it cannot be used."""


@dataclass
class BuiltAttack:
    """A ready attack with the parts fmaudit reads back after each example."""

    name: str
    attack: Any
    protection: ProtectedWords | None
    counted: list[Counted]


class RecipeUnavailable(Exception):
    """A recipe cannot run here; the message says why (e.g. 'WordNet data missing')."""


@contextlib.contextmanager
def quiet_textattack(*, stderr: bool = True) -> Iterator[None]:
    """TextAttack prints its attack description to stdout and logs compatibility notices; its
    closing metrics average empty arrays with numpy, which warns. Silence all that here only."""
    from textattack.shared.utils import logger as textattack_logger

    previous = textattack_logger.level
    textattack_logger.setLevel(logging.WARNING)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            if stderr:
                stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", RuntimeWarning)
            # For models it does not know, TextAttack warns through the deprecated Logger.warn.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="textattack")
            yield
    finally:
        textattack_logger.setLevel(previous)


@contextlib.contextmanager
def no_nltk_download() -> Iterator[None]:
    """``WordSwapWordNet.__init__`` calls ``nltk.download('omw-1.4')`` on every build; English WordNet
    needs no Open Multilingual Wordnet, and fmaudit never downloads."""
    import nltk

    with mock.patch.object(nltk, "download", return_value=True):
        yield


def build_attack(
    name: str,
    *,
    custom: dict[str, CustomRecipe],
    victim: Any,
    resources: Resources,
    protection: ProtectedWords | None,
    reject_antonyms: bool,
    query_budget: int,
) -> BuiltAttack:
    """The attack for recipe ``name`` under the query budget; RecipeUnavailable when a resource is missing."""
    for resource in sorted(recipe_resources(name, custom)):
        if resource in resources.missing:
            raise RecipeUnavailable(resources.missing[resource])
    recipe = recipe_definition(name, custom)
    with quiet_textattack(), no_nltk_download():
        if recipe is not None:
            base = assemble(recipe, victim, resources)
        else:
            from textattack import attack_recipes

            base = getattr(attack_recipes, str(BUILTIN_RECIPES[name].textattack_recipe)).build(victim)
    base.goal_function.query_budget = query_budget  # as TextAttack's Attacker sets it
    return with_domain_constraints(
        name, base, protection=protection, antonyms=reject_antonyms and "wordnet" not in resources.missing
    )


def with_domain_constraints(name: str, base: Any, *, protection: ProtectedWords | None, antonyms: bool) -> BuiltAttack:
    """The same attack with fmaudit's constraints appended and every post-transformation constraint counted.

    Without protection and antonyms it attacks exactly as ``base`` does: the counting wrappers only count.
    """
    import textattack

    post = [*base.constraints, *([NoAntonymSwap()] if antonyms else [])]
    counted = [Counted(c, type(c).__name__) for c in post]
    pre = [*base.pre_transformation_constraints, *([protection] if protection is not None else [])]
    attack = textattack.Attack(base.goal_function, [*pre, *counted], base.transformation, base.search_method)
    return BuiltAttack(name=name, attack=attack, protection=protection, counted=counted)


def assemble(recipe: CustomRecipe, victim: Any, resources: Resources) -> Any:
    """A TextAttack Attack from a recipe's named components, untargeted on the model's decision."""
    import importlib

    import textattack
    from textattack import search_methods, transformations
    from textattack.goal_functions import UntargetedClassification

    def make(module: Any, component: Any) -> Any:
        kwargs = component.model_dump(exclude={"name"})
        if component.name in EMBEDDING_COMPONENTS:
            kwargs["embedding"] = resources.glove
        return getattr(module, component.name)(**kwargs)

    parts = [make(transformations, t) for t in recipe.transformations]
    transformation = parts[0] if len(parts) == 1 else transformations.CompositeTransformation(parts)
    modules = [importlib.import_module(m) for m in CONSTRAINT_MODULES]
    constraints = [make(next(m for m in modules if hasattr(m, c.name)), c) for c in recipe.constraints]
    return textattack.Attack(
        UntargetedClassification(victim), constraints, transformation, make(search_methods, recipe.search)
    )
