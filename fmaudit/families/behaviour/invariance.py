"""Invariance tests: the same application written another way must get the same decision.

A text model reads the serialisation, so another wording of a category value ('radio/TV' for
'radio/television'), another letter case, another number format ('1,169' for '1169') or the fields in
another order are all the same applicant; a decision that changes with them is an artefact of the prompt
(Sclar et al. 2023, "Quantifying Language Models' Sensitivity to Spurious Features in Prompt Design").
Equivalent writings of a value apply to tabular models too: an unseen category is what a tabular model
meets when the same fact is written differently.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np

from fmaudit.families.behaviour.params import Invariance
from fmaudit.families.behaviour.rewrites import CASE_VARIANTS, NUMBER_VARIANTS, permuted_templates, rewrite_numbers
from fmaudit.families.behaviour.scoring import Edit

TESTS = ("equivalent_values", "case", "number_format", "field_order")


def planned_tests(invariance: Invariance, kind: str) -> list[str]:
    """The invariance tests a spec asks for on a model of this kind, in report order."""
    tests = ["equivalent_values"] if invariance.values else []
    return tests + [t for t in TESTS[1:] if invariance.enabled(t, kind)]


def invariance_edits(
    test: str,
    invariance: Invariance,
    records: Sequence[dict[str, object]],
    *,
    template: str,
    numeric_fields: Sequence[str],
    rng: np.random.Generator,
) -> list[Edit]:
    """The rewritten copies of every sampled row for one test."""
    edits: list[Edit] = []
    if test == "equivalent_values":
        for field, writings in invariance.values.items():
            for position, record in enumerate(records):
                for writing in writings.get(str(record[field]), []):
                    change = f"{record[field]!s} → {writing}"
                    edits.append(Edit(position, {**record, field: writing}, template, field, change))
    elif test == "case":
        for variant, rewrite in CASE_VARIANTS.items():
            for position, record in enumerate(records):
                changed, changed_template = rewrite(record, template)
                edits.append(Edit(position, changed, changed_template, variant, variant))
    elif test == "number_format":
        for variant, write in NUMBER_VARIANTS.items():
            for position, record in enumerate(records):
                rewritten = rewrite_numbers(record, numeric_fields, write)
                if rewritten is not None:
                    change = ", ".join(
                        f"{record[f]!s} → {rewritten[f]!s}" for f in numeric_fields if rewritten[f] != record[f]
                    )
                    edits.append(Edit(position, rewritten, template, variant, change))
    elif test == "field_order":
        for number, permuted in enumerate(permuted_templates(template, count=invariance.permutations, rng=rng), 1):
            order = [f for _, f, _, _ in string.Formatter().parse(permuted) if f is not None]
            change = f"fields in the order {', '.join(order[:3])}, …"
            test_name = f"field order {number}"
            edits += [Edit(i, dict(record), permuted, test_name, change) for i, record in enumerate(records)]
    else:
        raise ValueError(f"unknown invariance test {test!r}")
    return edits
