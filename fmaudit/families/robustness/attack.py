"""One robustness run: sample the test rows, protect their facts, make the offline resources ready,
build every recipe that can run, and attack the sample with each.

Import after ``fmaudit.core.offline.prepare_textattack``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fmaudit.core.offline import provision_wordnet
from fmaudit.data import template_fields
from fmaudit.families.robustness.constraints import ProtectedWords, protected_indices, word_fields
from fmaudit.families.robustness.embeddings import glove_embedding
from fmaudit.families.robustness.recipe_spec import (
    CustomRecipe,
    EmbeddingSwap,
    Resource,
    recipe_definition,
    recipe_resources,
)
from fmaudit.families.robustness.recipes import RecipeUnavailable, Resources, build_attack
from fmaudit.families.robustness.victim import Victim
from fmaudit.families.robustness.workers import Example, Outcome, run_attacks, worker_count

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
    from fmaudit.families.robustness.params import DomainConstraints, RobustnessParams
    from fmaudit.models.text import TextClassifier
    from fmaudit.plugins.context import AuditContext


@dataclass(frozen=True)
class AttackRun:
    """Everything the findings are read from."""

    examples: list[Example]
    outcomes: dict[str, tuple[list[Outcome], float]]
    """Recipe -> outcomes in example order, and the recipe's wall time in seconds."""
    unavailable: dict[str, str]
    """Recipe -> why it could not run."""
    protected_fields: list[str]
    missing: dict[Resource, str] = field(default_factory=dict)
    workers: int = 1


def default_protected_fields(data: PreparedData, sensitive_columns: set[str], fields: list[str]) -> list[str]:
    """The sensitive attributes' columns and every numeric column among the template's fields."""
    return [
        f
        for f in fields
        if f in sensitive_columns or (f in data.frame and pd.api.types.is_numeric_dtype(data.frame[f]))
    ]


def protection_for(
    examples: list[Example], data: PreparedData, constraints: DomainConstraints, protected_fields: list[str]
) -> ProtectedWords | None:
    """The word-protection constraint for these examples, None when nothing is protected."""
    from textattack.shared.utils import words_from_text

    if not (constraints.protect_template or protected_fields or constraints.protect_numbers):
        return None
    protected = {}
    for example in examples:
        words = words_from_text(example.text)
        protected[example.text] = protected_indices(
            words,
            word_fields(example.text, words, data.spans[example.row]),
            protected_fields=set(protected_fields),
            template=constraints.protect_template,
            numbers=constraints.protect_numbers,
        )
    return ProtectedWords(protected)


def prepare_resources(
    needs: set[Resource], *, nltk_dir: Path, texts: list[str], custom: list[CustomRecipe]
) -> Resources:
    """WordNet and GloVe for the recipes that need them; what is missing is recorded, never raised."""
    resources = Resources()
    if "wordnet" in needs:
        reason = provision_wordnet(nltk_dir)
        if reason is None:
            from nltk.corpus import wordnet

            try:
                wordnet.ensure_loaded()  # once, before workers fork
            except (LookupError, OSError) as exc:
                reason = f"WordNet data unreadable: {exc}"
        if reason is not None:
            resources.missing["wordnet"] = reason
    if "glove" in needs:
        k = max(
            [t.max_candidates for recipe in custom for t in recipe.transformations if isinstance(t, EmbeddingSwap)],
            default=1,
        )
        try:
            resources.glove = glove_embedding(texts, k=k)
        except LookupError as exc:
            resources.missing["glove"] = str(exc)
    return resources


def attack_sample(context: AuditContext, params: RobustnessParams, *, classifier: TextClassifier) -> AttackRun:
    """Attack a seeded sample of test rows, scored by ``classifier`` (the context's model), with every recipe that
    can run here."""
    data, preds = context.data, context.predictions
    rng = np.random.default_rng(params.seed)
    chosen = np.sort(rng.choice(len(preds.row_ids), size=min(params.samples, len(preds.row_ids)), replace=False))
    examples = [
        Example(row=int(preds.row_ids[i]), text=data.texts[int(preds.row_ids[i])], label=int(preds.labels[i]))
        for i in chosen
    ]
    protected_fields = (
        list(params.constraints.protect_fields)
        if params.constraints.protect_fields is not None
        else default_protected_fields(
            data, {s.column for s in context.spec.data.sensitive.values()}, template_fields(context.spec.data.template)
        )
    )
    definitions = [d for d in (recipe_definition(n, params.custom_recipes) for n in params.recipes) if d is not None]
    word_level = [name for name in params.recipes if params.kind(name) == "word substitution"]
    needs = {r for name in params.recipes for r in recipe_resources(name, params.custom_recipes)}
    if params.constraints.reject_antonyms and word_level:
        needs.add("wordnet")
    resources = prepare_resources(
        needs, nltk_dir=context.work_dir / "nltk_data", texts=[e.text for e in examples], custom=definitions
    )
    protection = protection_for(examples, data, params.constraints, protected_fields)
    victim = Victim(classifier)
    built, unavailable = {}, {}
    for name in params.recipes:
        try:
            built[name] = build_attack(
                name,
                custom=params.custom_recipes,
                victim=victim,
                resources=resources,
                protection=protection,
                reject_antonyms=params.constraints.reject_antonyms and name in word_level,
                query_budget=params.query_budget,
            )
        except RecipeUnavailable as exc:
            unavailable[name] = str(exc)
    executor = context.executor
    workers = worker_count(params.workers, len(examples), executor.workers)
    outcomes = run_attacks(
        built,
        examples,
        seed=params.seed,
        time_limit=params.time_limit,
        workers=workers,
        show_progress=context.show_progress,
        on_recipe=lambda name: context.say(
            f"robustness: {name} on {len(examples)} rows, query budget {params.query_budget}, {workers} worker(s)"
            + (f" on {executor.name}" if executor.distributed else "")
        ),
        executor=executor,
        nltk_dir=context.work_dir / "nltk_data",
    )
    return AttackRun(
        examples=examples,
        outcomes=outcomes,
        unavailable=unavailable,
        protected_fields=protected_fields,
        missing=resources.missing,
        workers=workers,
    )
