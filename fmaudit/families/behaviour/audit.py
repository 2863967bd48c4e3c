"""The behaviour audit end to end: sample rows, build every test's edits, score them in one batch pass,
and reduce each test to its outcome. Separate random streams (sampling, permutations, each test's
bootstrap) keep every figure independent of which other tests ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fmaudit.core.findings import Estimate
from fmaudit.core.intervals import stream
from fmaudit.data import PreparedData, template_fields
from fmaudit.families.behaviour.invariance import invariance_edits, planned_tests
from fmaudit.families.behaviour.monotonicity import monotone_edits
from fmaudit.families.behaviour.outcomes import Outcome, Pairs, outcome
from fmaudit.families.behaviour.params import BehaviourParams
from fmaudit.families.behaviour.rates import Slices
from fmaudit.families.behaviour.scoring import Edit, RecordScorer, score_edits
from fmaudit.families.behaviour.templates import (
    AUDITED,
    GateReading,
    TemplateFigures,
    fairness_gate_readings,
    headline_figures,
)
from fmaudit.metrics.parity import compared_min_size


@dataclass(frozen=True)
class Inputs:
    """What the audit reads of the run: the model, the data and the test split's scores."""

    data: PreparedData
    model: RecordScorer
    template: str
    row_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    threshold: float
    attributes: dict[str, list[str]]
    numeric_fields: tuple[str, ...]
    gates: tuple[str, ...] = ()
    fairness_parity: dict[str, Estimate] = field(default_factory=dict)
    """Attribute -> the fairness section's demographic parity ratio on these scores, where it ran: the audited
    template's figure, the one its gates read."""
    say: Callable[[str], None] = field(default=lambda message: None)


@dataclass(frozen=True)
class BehaviourResult:
    """Every test's outcome; per-field breakdowns keyed by field."""

    sampled: np.ndarray
    """Row ids of the sampled test rows."""
    monotonicity: Outcome | None
    monotone_fields: dict[str, Outcome]
    invariance: dict[str, Outcome]
    equivalent_fields: dict[str, Outcome]
    templates: tuple[TemplateFigures, ...]
    """The audited template's figures first, then each alternative's."""
    template_flips: dict[str, Outcome]
    template_pooled: Outcome | None
    readings: tuple[GateReading, ...]
    edits_scored: int
    min_group_rows: int = 0
    """The fewest test rows a group needed to enter a template's parity ratio."""
    audited_parity_from_fairness: bool = False
    """Whether the audited template's parity ratios are the fairness section's."""


def run_behaviour(inputs: Inputs, params: BehaviourParams) -> BehaviourResult:
    """Run every declared and default test on a seeded sample of the test split."""
    sample_rng = stream(params.seed, "behaviour.sample")
    n_test = len(inputs.row_ids)
    take = np.sort(sample_rng.choice(n_test, size=min(params.rows, n_test), replace=False))
    records = inputs.data.frame.iloc[inputs.row_ids[take]].to_dict("records")
    tests = _sample_edits(inputs, params, records)
    split = inputs.data.frame.iloc[inputs.row_ids].to_dict("records") if params.templates else []
    template_edits = {
        name: [Edit(i, record, t, name, name) for i, record in enumerate(split)] for name, t in params.templates.items()
    }
    everything = [e for edits in [*tests.values(), *template_edits.values()] for e in edits]
    inputs.say(f"behaviour: scoring {len(everything)} edited rows")
    scored = np.split(score_edits(inputs.model, everything, workers=params.workers), _bounds(tests, template_edits))
    sampled = _Reducer(inputs, params, take=take)
    tested = {
        test: sampled.tested(test, edits, after)
        for (test, edits), after in zip(tests.items(), scored[: len(tests)], strict=True)
    }
    figures, flips, pooled = _template_outcomes(inputs, params, template_edits, scored[len(tests) :])
    none: tuple[Outcome | None, dict[str, Outcome]] = (None, {})
    mono = tested.get("monotonicity", none)
    return BehaviourResult(
        sampled=sampled.row_ids,
        monotonicity=mono[0],
        monotone_fields=mono[1],
        invariance={test: result for test, (result, _) in tested.items() if test != "monotonicity"},
        equivalent_fields=tested.get("equivalent_values", none)[1],
        templates=figures,
        template_flips=flips,
        template_pooled=pooled,
        readings=tuple(fairness_gate_readings(inputs.gates, figures)),
        edits_scored=len(everything),
        min_group_rows=_min_size(inputs, params),
        audited_parity_from_fairness=bool(inputs.fairness_parity),
    )


def _sample_edits(inputs: Inputs, params: BehaviourParams, records: list[dict[str, Any]]) -> dict[str, list[Edit]]:
    """Each monotonicity and invariance test's edits of the sampled rows, by test."""
    tests: dict[str, list[Edit]] = {}
    if params.monotonicity:
        tests["monotonicity"] = [
            edit
            for name, claim in params.monotonicity.items()
            for edit in monotone_edits(name, claim, records, observed=inputs.data.frame[name], template=inputs.template)
        ]
    numeric = [f for f in template_fields(inputs.template) if f in inputs.numeric_fields]
    for test in planned_tests(params.invariance, inputs.model.kind):
        tests[test] = invariance_edits(
            test,
            params.invariance,
            records,
            template=inputs.template,
            numeric_fields=numeric,
            rng=stream(params.seed, "behaviour.invariance", test),
        )
    return tests


class _Reducer:
    """Reduces edits and their scores to outcomes over one set of rows (the sample, or the whole test split)."""

    def __init__(self, inputs: Inputs, params: BehaviourParams, *, take: np.ndarray | None = None) -> None:
        self.inputs, self.params = inputs, params
        self.row_ids = inputs.row_ids if take is None else inputs.row_ids[take]
        self.before = inputs.scores if take is None else inputs.scores[take]
        groups = inputs.data.sensitive.iloc[self.row_ids].reset_index(drop=True)
        self.groups = groups
        self.slices = Slices.of(groups, inputs.attributes)

    def reduce(self, name: str, edits: list[Edit], after: np.ndarray, *, event: str) -> Outcome:
        pairs = Pairs(edits, self.before[[e.position for e in edits]] if edits else np.zeros(0), after)
        params = self.params
        return outcome(
            name,
            pairs,
            event=event,
            row_ids=self.row_ids,
            slices=self.slices,
            threshold=self.inputs.threshold,
            tolerance=params.tolerance,
            examples=params.examples,
            n_boot=params.n_boot,
            confidence=params.confidence,
            rng=stream(params.seed, "behaviour", name),
        )

    def tested(self, test: str, edits: list[Edit], after: np.ndarray) -> tuple[Outcome, dict[str, Outcome]]:
        """A sample test's outcome, and its breakdown by field where it has one (monotonicity, equivalent values)."""
        event = "drop" if test == "monotonicity" else "flip"
        names = {
            "monotonicity": list(self.params.monotonicity),
            "equivalent_values": list(self.params.invariance.values),
        }
        keep = {name: [i for i, e in enumerate(edits) if e.test == name] for name in names.get(test, [])}
        by_field = {
            name: self.reduce(f"{test}.{name}", [edits[i] for i in idx], after[idx], event=event)
            for name, idx in keep.items()
        }
        return self.reduce(test, edits, after, event=event), by_field


def _template_outcomes(
    inputs: Inputs, params: BehaviourParams, template_edits: dict[str, list[Edit]], scored: list[np.ndarray]
) -> tuple[tuple[TemplateFigures, ...], dict[str, Outcome], Outcome | None]:
    """The whole test split under each alternative template: headline figures (the audited template's first),
    decision flips per template, and the flips pooled over all of them."""
    if not template_edits:
        return (), {}, None
    split = _Reducer(inputs, params)

    def figures(name: str, scores: np.ndarray, dropped: tuple[str, ...] = ()) -> TemplateFigures:
        return headline_figures(
            name,
            labels=inputs.labels,
            scores=scores,
            groups=split.groups,
            attributes=inputs.attributes,
            threshold=inputs.threshold,
            min_size=_min_size(inputs, params),
            n_boot=params.n_boot,
            confidence=params.confidence,
            rng=stream(params.seed, "behaviour.template_sensitivity", name),
            dropped=dropped,
            known=inputs.fairness_parity if name == AUDITED else None,
        )

    audited_fields = template_fields(inputs.template)
    afters = dict(zip(template_edits, scored, strict=True))
    all_figures = [figures(AUDITED, inputs.scores)]
    flips = {}
    for name, edits in template_edits.items():
        used = set(template_fields(params.templates[name]))
        all_figures.append(figures(name, afters[name], tuple(f for f in audited_fields if f not in used)))
        flips[name] = split.reduce(f"templates.{name}", edits, afters[name], event="flip")
    pooled_edits = [e for edits in template_edits.values() for e in edits]
    pooled = split.reduce("templates", pooled_edits, np.concatenate(list(afters.values())), event="flip")
    return tuple(all_figures), flips, pooled


def _min_size(inputs: Inputs, params: BehaviourParams) -> int:
    return compared_min_size(
        len(inputs.labels), min_group_size=params.min_group_size, min_group_share=params.min_group_share
    )


def _bounds(*groups: dict[str, list[Edit]]) -> list[int]:
    """Where each test's scores end in the one batch of all edits (for np.split)."""
    sizes = [len(edits) for group in groups for edits in group.values()]
    return list(np.cumsum(sizes)[:-1]) if sizes else []
