"""Domain-aware constraints: a perturbation that changes the applicant's facts is a different applicant,
not an adversarial example.

``ProtectedWords`` keeps the serialisation template's own words, the declared fact fields and every
number out of reach, locating each word's field through the template's character spans.
``NoAntonymSwap`` rejects a swap to a word WordNet lists as an opposite (skilled -> unskilled).
``Counted`` wraps any TextAttack constraint to count the candidate perturbations it rejects.
Import after ``fmaudit.core.offline.prepare_textattack``: these subclass TextAttack's classes.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from textattack.constraints import Constraint, PreTransformationConstraint
from textattack.shared import AttackedText
from textattack.shared.validators import transformation_consists_of_word_swaps

from fmaudit.data import TEMPLATE_TEXT, field_of_token


def word_spans(text: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """Character span of each of TextAttack's words in ``text`` (they occur in order)."""
    spans, cursor = [], 0
    for word in words:
        start = text.find(word, cursor)
        if start < 0:  # TextAttack keeps words verbatim; a miss would be a TextAttack change
            raise ValueError(f"word {word!r} not found in text after position {cursor}")
        spans.append((start, start + len(word)))
        cursor = start + len(word)
    return spans


def word_fields(text: str, words: Sequence[str], spans: Mapping[str, tuple[int, int]]) -> list[str]:
    """The template field each word lies in; TEMPLATE_TEXT for the template's own words and for a word
    that straddles a field's edge."""
    fields = []
    for start, end in word_spans(text, words):
        field = field_of_token(start, end, dict(spans))
        inside = field != TEMPLATE_TEXT and spans[field][0] <= start and end <= spans[field][1]
        fields.append(field if inside else TEMPLATE_TEXT)
    return fields


def protected_indices(
    words: Sequence[str], fields: Sequence[str], *, protected_fields: set[str], template: bool, numbers: bool
) -> frozenset[int]:
    """Indices of the words an attack may not touch."""
    return frozenset(
        i
        for i, (word, field) in enumerate(zip(words, fields, strict=True))
        if (field == TEMPLATE_TEXT and template)
        or field in protected_fields
        or (numbers and any(ch.isdigit() for ch in word))
    )


def original_of(text: AttackedText) -> AttackedText:
    """The text an attack started from (TextAttack links each perturbation to its predecessor)."""
    while "previous_attacked_text" in text.attack_attrs:
        text = text.attack_attrs["previous_attacked_text"]
    return text


class ProtectedWords(PreTransformationConstraint):  # type: ignore[misc]
    """Words of protected fields, of the template and numbers are never modified.

    ``protected`` maps each original text to the indices of its protected words; a text it does not
    know is protected entirely (fail closed).
    """

    def __init__(self, protected: Mapping[str, frozenset[int]]) -> None:
        self.protected = dict(protected)

    def _get_modifiable_indices(self, current_text: AttackedText) -> set[int]:
        protected = self.protected.get(original_of(current_text).text)
        if protected is None:
            return set()
        index_map = current_text.attack_attrs["original_index_map"]
        blocked = {int(index_map[i]) for i in protected if i < len(index_map) and index_map[i] >= 0}
        return set(range(len(current_text.words))) - blocked

    def extra_repr_keys(self) -> list[str]:
        return []


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a side computation without moving the random streams an attack draws from."""
    import torch

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def withheld_candidates(attack: Any, protection: ProtectedWords, original: AttackedText) -> int:
    """How many candidate perturbations of ``original`` the attack's transformation would offer on protected
    words that the recipe's own pre-transformation constraints allow: what protection took away at the start."""
    protected = protection.protected.get(original.text, frozenset())
    if not protected:
        return 0
    others = [c for c in attack.pre_transformation_constraints if c is not protection]
    with preserved_random_state():
        return len(
            attack.transformation(original, pre_transformation_constraints=others, indices_to_modify=set(protected))
        )


@lru_cache(maxsize=65536)
def wordnet_antonyms(word: str) -> frozenset[str]:
    """Every WordNet antonym of any sense of ``word`` (and of the adjectives a satellite sense is similar to)."""
    from nltk.corpus import wordnet

    opposites: set[str] = set()
    for synset in wordnet.synsets(word):
        for related in [synset, *synset.similar_tos()]:
            for lemma in related.lemmas():
                opposites.update(a.name().lower().replace("_", " ") for a in lemma.antonyms())
    return frozenset(opposites)


class NoAntonymSwap(Constraint):  # type: ignore[misc]
    """Rejects swapping a word for one of its WordNet antonyms: the opposite fact, not a paraphrase."""

    def __init__(self) -> None:
        super().__init__(compare_against_original=False)

    def _check_constraint(self, transformed_text: AttackedText, reference_text: AttackedText) -> bool:
        for i in transformed_text.attack_attrs.get("newly_modified_indices", ()):
            if i < len(reference_text.words) and i < len(transformed_text.words):
                old, new = reference_text.words[i].lower(), transformed_text.words[i].lower()
                if new in wordnet_antonyms(old):
                    return False
        return True

    def check_compatibility(self, transformation: Any) -> bool:
        return bool(transformation_consists_of_word_swaps(transformation))

    def extra_repr_keys(self) -> list[str]:
        return []


class Counted(Constraint):  # type: ignore[misc]
    """A TextAttack constraint that also counts the candidate perturbations it rejects."""

    def __init__(self, inner: Constraint, label: str) -> None:
        super().__init__(inner.compare_against_original)
        self.inner = inner
        self.label = label
        self.rejected = 0

    def call_many(self, transformed_texts: list[AttackedText], reference_text: AttackedText) -> list[AttackedText]:
        kept = self.inner.call_many(transformed_texts, reference_text)
        self.rejected += len(transformed_texts) - len(kept)
        return list(kept)

    def _check_constraint(self, transformed_text: AttackedText, reference_text: AttackedText) -> bool:
        return bool(self.inner._check_constraint(transformed_text, reference_text))

    def check_compatibility(self, transformation: Any) -> bool:
        return bool(self.inner.check_compatibility(transformation))

    def clear_cache(self) -> None:
        if hasattr(self.inner, "clear_cache"):
            self.inner.clear_cache()

    def __repr__(self) -> str:
        return repr(self.inner)
