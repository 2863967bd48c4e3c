"""Attack recipes as data: TextAttack's named components that run offline, with their parameters,
so a custom recipe in the spec is validated like every other key without importing TextAttack.

A component's ``name`` is the TextAttack class; its other fields are that class's keyword
arguments (a test checks them against TextAttack's signatures). Word embeddings come from
GloVe and synonyms from WordNet, never from TextAttack's downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from fmaudit.spec import PluginParams

Resource = Literal["glove", "wordnet"]
Kind = Literal["typo", "word substitution"]


class CharacterEdit(PluginParams):
    """Character-level edits inside a word: typos, not changes of meaning."""

    name: Literal[
        "WordSwapQWERTY",
        "WordSwapNeighboringCharacterSwap",
        "WordSwapRandomCharacterDeletion",
        "WordSwapRandomCharacterInsertion",
    ]
    random_one: bool = True
    skip_first_char: bool = False
    skip_last_char: bool = False


class CharacterSubstitution(PluginParams):
    name: Literal["WordSwapRandomCharacterSubstitution", "WordSwapHomoglyphSwap"]
    random_one: bool = True


class EmbeddingSwap(PluginParams):
    """Swap a word for one of its nearest GloVe neighbours (TextFooler's transformation)."""

    name: Literal["WordSwapEmbedding"]
    max_candidates: int = Field(15, ge=1, le=100)


class WordNetSwap(PluginParams):
    """Swap a word for a WordNet synonym (PWWS's transformation)."""

    name: Literal["WordSwapWordNet"]


Transformation = Annotated[
    CharacterEdit | CharacterSubstitution | EmbeddingSwap | WordNetSwap, Field(discriminator="name")
]


class RepeatModification(PluginParams):
    name: Literal["RepeatModification"]


class StopwordModification(PluginParams):
    name: Literal["StopwordModification"]
    stopwords: list[str] | None = Field(
        None, description="default: the English list fmaudit provisions offline (scikit-learn's 318 words)"
    )


class MinWordLength(PluginParams):
    name: Literal["MinWordLength"]
    min_length: int = Field(ge=1)


class MaxModificationRate(PluginParams):
    name: Literal["MaxModificationRate"]
    max_rate: float = Field(gt=0, le=1)
    min_threshold: int = Field(1, ge=1)


class MaxWordsPerturbed(PluginParams):
    name: Literal["MaxWordsPerturbed"]
    max_num_words: int | None = Field(None, ge=1)
    max_percent: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_limit(self) -> MaxWordsPerturbed:
        if self.max_num_words is None and self.max_percent is None:
            raise ValueError("give max_num_words or max_percent")
        return self


class LevenshteinEditDistance(PluginParams):
    name: Literal["LevenshteinEditDistance"]
    max_edit_distance: int = Field(ge=0)


class WordEmbeddingDistance(PluginParams):
    name: Literal["WordEmbeddingDistance"]
    min_cos_sim: float | None = Field(None, gt=-1, le=1)
    max_mse_dist: float | None = Field(None, gt=0)
    include_unknown_words: bool = True

    @model_validator(mode="after")
    def _one_limit(self) -> WordEmbeddingDistance:
        if (self.min_cos_sim is None) == (self.max_mse_dist is None):
            raise ValueError("give exactly one of min_cos_sim or max_mse_dist")
        return self


Constraint = Annotated[
    RepeatModification
    | StopwordModification
    | MinWordLength
    | MaxModificationRate
    | MaxWordsPerturbed
    | LevenshteinEditDistance
    | WordEmbeddingDistance,
    Field(discriminator="name"),
]


class GreedyWordSwapWIR(PluginParams):
    """Greedy search over words ranked by importance ('delete': TextFooler, 'weighted-saliency': PWWS)."""

    name: Literal["GreedyWordSwapWIR"]
    wir_method: Literal["unk", "delete", "weighted-saliency", "random"] = "unk"


class GreedySearch(PluginParams):
    name: Literal["GreedySearch"]


class BeamSearch(PluginParams):
    name: Literal["BeamSearch"]
    beam_width: int = Field(8, ge=1)


Search = Annotated[GreedyWordSwapWIR | GreedySearch | BeamSearch, Field(discriminator="name")]


def _no_repeats() -> list[Constraint]:
    """TextAttack's usual first constraint: a word is modified at most once."""
    return [RepeatModification(name="RepeatModification")]


class CustomRecipe(PluginParams):
    """An untargeted attack on the decision assembled from TextAttack components."""

    transformation: Transformation | list[Transformation] = Field(
        description="one transformation, or several tried together (TextAttack's CompositeTransformation)"
    )
    constraints: list[Constraint] = Field(
        default_factory=_no_repeats,
        description="TextAttack constraints, applied in order",
    )
    search: Search = Field(default_factory=lambda: GreedyWordSwapWIR(name="GreedyWordSwapWIR", wir_method="delete"))

    @model_validator(mode="after")
    def _distance_only_on_embedding_swaps(self) -> CustomRecipe:
        """fmaudit's offline GloVe holds only the attacked words and their neighbours, so WordEmbeddingDistance
        can measure WordSwapEmbedding's candidates alone; any other swap would pass it unmeasured."""
        distance = any(isinstance(c, WordEmbeddingDistance) for c in self.constraints)
        if distance and not all(isinstance(t, EmbeddingSwap) for t in self.transformations):
            raise ValueError("WordEmbeddingDistance measures only WordSwapEmbedding candidates offline")
        return self

    @property
    def transformations(self) -> list[CharacterEdit | CharacterSubstitution | EmbeddingSwap | WordNetSwap]:
        return self.transformation if isinstance(self.transformation, list) else [self.transformation]

    @property
    def kind(self) -> Kind:
        """Typo sensitivity when every transformation edits characters; word substitution otherwise."""
        words = any(isinstance(t, EmbeddingSwap | WordNetSwap) for t in self.transformations)
        return "word substitution" if words else "typo"

    @property
    def resources(self) -> set[Resource]:
        """Offline resources this recipe needs."""
        needs: set[Resource] = set()
        if any(isinstance(t, EmbeddingSwap) for t in self.transformations) or any(
            isinstance(c, WordEmbeddingDistance) for c in self.constraints
        ):
            needs.add("glove")
        if any(isinstance(t, WordNetSwap) for t in self.transformations):
            needs.add("wordnet")
        return needs


TEXTFOOLER_GLOVE = CustomRecipe(
    transformation=EmbeddingSwap(name="WordSwapEmbedding", max_candidates=50),
    constraints=[
        RepeatModification(name="RepeatModification"),
        StopwordModification(name="StopwordModification"),
        WordEmbeddingDistance(name="WordEmbeddingDistance", min_cos_sim=0.5),
    ],
    search=GreedyWordSwapWIR(name="GreedyWordSwapWIR", wir_method="delete"),
)
"""TextFooler (Jin et al. 2020) rebuilt offline: its transformation, search and embedding-distance constraint
over GloVe 6B 50d instead of counter-fitted paragram vectors; without its part-of-speech and Universal
Sentence Encoder constraints, whose models cannot be had offline."""


@dataclass(frozen=True)
class BuiltinRecipe:
    """A recipe fmaudit ships: TextAttack's own ``attack_recipes`` class, or a named CustomRecipe."""

    kind: Kind
    resources: frozenset[Resource] = frozenset()
    textattack_recipe: str | None = None
    custom: CustomRecipe | None = None
    measures: str = ""


BUILTIN_RECIPES: dict[str, BuiltinRecipe] = {
    "DeepWordBugGao2018": BuiltinRecipe(
        kind="typo",
        textattack_recipe="DeepWordBugGao2018",
        measures="character swaps, substitutions, deletions and insertions inside the most important words",
    ),
    "Pruthi2019": BuiltinRecipe(
        kind="typo",
        textattack_recipe="Pruthi2019",
        measures="one keyboard-typo-like edit inside a word of four or more letters",
    ),
    "PWWSRen2019": BuiltinRecipe(
        kind="word substitution",
        resources=frozenset({"wordnet"}),
        textattack_recipe="PWWSRen2019",
        measures="WordNet synonym swaps ranked by probability-weighted word saliency",
    ),
    "TextFoolerGloVe": BuiltinRecipe(
        kind="word substitution",
        resources=frozenset({"glove"}),
        custom=TEXTFOOLER_GLOVE,
        measures="GloVe nearest-neighbour swaps (cosine >= 0.5) of the words whose deletion moves the score most",
    ),
}


def recipe_definition(name: str, custom: dict[str, CustomRecipe]) -> CustomRecipe | None:
    """The components of recipe ``name``; None for TextAttack's own recipes, built by TextAttack."""
    return custom.get(name) or BUILTIN_RECIPES[name].custom


def recipe_resources(name: str, custom: dict[str, CustomRecipe]) -> set[Resource]:
    """The offline resources recipe ``name`` needs."""
    recipe = recipe_definition(name, custom)
    return recipe.resources if recipe is not None else set(BUILTIN_RECIPES[name].resources)
