"""The behaviour audit end to end: sample rows, build every test's edits, score them in one batch pass,
and reduce each test to its outcome. Separate random streams (sampling, permutations, each test's
bootstrap) keep every figure independent of which other tests ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

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


def run_behaviour(inputs: Inputs, params: BehaviourParams) -> BehaviourResult:
    """Run every declared and default test on a seeded sample of the test split."""
    kind = inputs.model.kind
    sample_rng = stream(params.seed, "behaviour.sample")
    n_test = len(inputs.row_ids)
    take = np.sort(sample_rng.choice(n_test, size=min(params.rows, n_test), replace=False))
    row_ids = inputs.row_ids[take]
    records = inputs.data.frame.iloc[row_ids].to_dict("records")
    before = inputs.scores[take]

    tests: dict[str, list[Edit]] = {}
    if params.monotonicity:
        tests["monotonicity"] = [
            edit
            for name, claim in params.monotonicity.items()
            for edit in monotone_edits(name, claim, records, observed=inputs.data.frame[name], template=inputs.template)
        ]
    numeric = [f for f in template_fields(inputs.template) if f in inputs.numeric_fields]
    for test in planned_tests(params.invariance, kind):
        tests[test] = invariance_edits(
            test,
            params.invariance,
            records,
            template=inputs.template,
            numeric_fields=numeric,
            rng=stream(params.seed, "behaviour.invariance", test),
        )
    split = inputs.data.frame.iloc[inputs.row_ids].to_dict("records") if params.templates else []
    template_edits = {
        name: [Edit(i, record, t, name, name) for i, record in enumerate(split)] for name, t in params.templates.items()
    }
    everything = [e for edits in [*tests.values(), *template_edits.values()] for e in edits]
    inputs.say(f"behaviour: scoring {len(everything)} edited rows")
    scored = iter(
        np.split(score_edits(inputs.model, everything, workers=params.workers), _bounds(tests, template_edits))
    )

    sample_groups = inputs.data.sensitive.iloc[row_ids].reset_index(drop=True)
    sample_slices = Slices.of(sample_groups, inputs.attributes)

    def reduce(
        name: str,
        edits: list[Edit],
        after: np.ndarray,
        *,
        event: str,
        scores: np.ndarray,
        ids: np.ndarray,
        slices: Slices,
    ) -> Outcome:
        pairs = Pairs(edits, scores[[e.position for e in edits]] if edits else np.zeros(0), after)
        return outcome(
            name,
            pairs,
            event=event,
            row_ids=ids,
            slices=slices,
            threshold=inputs.threshold,
            tolerance=params.tolerance,
            examples=params.examples,
            n_boot=params.n_boot,
            confidence=params.confidence,
            rng=stream(params.seed, "behaviour", name),
        )

    def breakdown(test: str, edits: list[Edit], after: np.ndarray, names: list[str], event: str) -> dict[str, Outcome]:
        keep = {name: [i for i, e in enumerate(edits) if e.test == name] for name in names}
        return {
            name: reduce(
                f"{test}.{name}",
                [edits[i] for i in idx],
                after[idx],
                event=event,
                scores=before,
                ids=row_ids,
                slices=sample_slices,
            )
            for name, idx in keep.items()
        }

    monotonicity, monotone_fields = None, {}
    invariance: dict[str, Outcome] = {}
    equivalent_fields: dict[str, Outcome] = {}
    for test, edits in tests.items():
        after = next(scored)
        event = "drop" if test == "monotonicity" else "flip"
        result = reduce(test, edits, after, event=event, scores=before, ids=row_ids, slices=sample_slices)
        if test == "monotonicity":
            monotonicity = result
            monotone_fields = breakdown(test, edits, after, list(params.monotonicity), event)
        else:
            invariance[test] = result
        if test == "equivalent_values":
            equivalent_fields = breakdown(test, edits, after, list(params.invariance.values), event)

    test_groups = inputs.data.sensitive.iloc[inputs.row_ids].reset_index(drop=True)
    test_slices = Slices.of(test_groups, inputs.attributes)

    def figures(name: str, scores: np.ndarray, dropped: tuple[str, ...] = ()) -> TemplateFigures:
        return headline_figures(
            name,
            labels=inputs.labels,
            scores=scores,
            groups=test_groups,
            threshold=inputs.threshold,
            min_group_size=params.min_group_size,
            n_boot=params.n_boot,
            confidence=params.confidence,
            rng=stream(params.seed, "behaviour.template_sensitivity", name),
            dropped=dropped,
        )

    all_figures = [figures(AUDITED, inputs.scores)] if params.templates else []
    template_flips: dict[str, Outcome] = {}
    audited_fields = template_fields(inputs.template)
    afters = {name: next(scored) for name in template_edits}
    for name, edits in template_edits.items():
        used = set(template_fields(params.templates[name]))
        all_figures.append(figures(name, afters[name], tuple(f for f in audited_fields if f not in used)))
        template_flips[name] = reduce(
            f"templates.{name}",
            edits,
            afters[name],
            event="flip",
            scores=inputs.scores,
            ids=inputs.row_ids,
            slices=test_slices,
        )
    pooled = None
    if template_edits:
        pooled = reduce(
            "templates",
            [e for edits in template_edits.values() for e in edits],
            np.concatenate(list(afters.values())),
            event="flip",
            scores=inputs.scores,
            ids=inputs.row_ids,
            slices=test_slices,
        )
    return BehaviourResult(
        sampled=row_ids,
        monotonicity=monotonicity,
        monotone_fields=monotone_fields,
        invariance=invariance,
        equivalent_fields=equivalent_fields,
        templates=tuple(all_figures),
        template_flips=template_flips,
        template_pooled=pooled,
        readings=tuple(fairness_gate_readings(inputs.gates, all_figures)),
        edits_scored=len(everything),
    )


def _bounds(*groups: dict[str, list[Edit]]) -> list[int]:
    """Where each test's scores end in the one batch of all edits (for np.split)."""
    sizes = [len(edits) for group in groups for edits in group.values()]
    return list(np.cumsum(sizes)[:-1]) if sizes else []
