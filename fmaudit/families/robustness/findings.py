"""Adversarial robustness findings (EU AI Act Art. 15(5)): the TextAttack summary per recipe, what each recipe
measures, constraint rejections, results per sensitive group with intervals, the most perturbed fields and
words, and the successful attacks highlighted.

Each recipe attacks the same seeded sample of test rows (misclassified rows are skipped, as TextAttack
does) within a query budget per example and an optional wall-clock cap per recipe. Success rate,
accuracy under attack, % words perturbed and queries are TextAttack's own metrics. By default the
template's own words, the fact fields (sensitive attributes, numeric columns) and every number are
protected: changing them makes a different applicant, not an adversarial example.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fmaudit.core.findings import (
    Bar,
    BarChart,
    Cell,
    Estimate,
    Highlight,
    Metric,
    PluginFindings,
    Table,
    Token,
    finite,
    metric_key,
)
from fmaudit.core.intervals import stream
from fmaudit.families.robustness.params import FIGURES, GROUP_FIGURES, RobustnessParams
from fmaudit.families.robustness.recipe_spec import BUILTIN_RECIPES, Kind
from fmaudit.plugins.context import AuditContext, AuditPlan

if TYPE_CHECKING:
    from fmaudit.families.robustness.attack import AttackRun
    from fmaudit.families.robustness.outcomes import Flip, GroupRates
    from fmaudit.families.robustness.workers import Outcome

READING: dict[Kind, str] = {
    "typo": "Typo sensitivity only: misspelt words, not a different applicant and not a realistic evasion of a "
    "credit form. A high rate says the model breaks on noisy input.",
    "word substitution": "Meant to preserve the application's meaning (word swaps outside protected fields, "
    "WordNet antonyms rejected): each success is a candidate adversarial example. Read the examples: WordNet "
    "senses and GloVe neighbours are not always synonyms.",
}


RECIPE_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rejections", "Candidate perturbations rejected by constraints", ("Recipe", "Constraint", "Candidates rejected")),
    (
        "groups",
        "Attack outcomes per sensitive group",
        (
            "Recipe",
            "Attribute",
            "Group",
            "Rows",
            "Attacked",
            "Succeeded",
            "Attack success rate",
            "Accuracy under attack",
        ),
    ),
    (
        "fields",
        "Most perturbed fields in successful attacks",
        ("Recipe", "Field", "Successful attacks touching it", "Words changed"),
    ),
    (
        "words",
        "Most perturbed words in successful attacks",
        ("Recipe", "Word", "Field", "Times changed", "Replaced by"),
    ),
    (
        "examples",
        "Successful attacks",
        ("Recipe", "Row", "Fields touched", "Changes", "P(favourable) before", "after", "Change"),
    ),
)
"""Tables assembled from every recipe's rows: (RecipeReport attribute, title, columns)."""


def robustness_findings(
    context: AuditContext, params: RobustnessParams, run: AttackRun, *, plugin: str, title: str
) -> PluginFindings:
    """Every recipe's figures, tables, charts and highlighted attacks from one attack run."""
    # Each recipe its own bootstrap stream: its intervals must not depend on which other recipes could run.
    reports = [
        _unavailable(recipe, run.unavailable[recipe], context.plan)
        if recipe in run.unavailable
        else _recipe_report(
            recipe,
            *run.outcomes[recipe],
            context,
            params,
            stream(params.seed, f"robustness.{recipe}"),
        )
        for recipe in params.recipes
    ]

    def rows(part: str) -> tuple[tuple[Cell, ...], ...]:
        return tuple(row for report in reports for row in getattr(report, part))

    budget = f"query budget {params.query_budget} per example" + (
        f", {params.time_limit:g} s per recipe" if params.time_limit else ", no time cap"
    )
    tables = [
        Table(
            title="Attack outcomes per recipe (TextAttack summary)",
            columns=("Recipe", "Kind", *(label for label, _ in FIGURES.values()), "Wall time (s)"),
            rows=rows("summary"),
            note=f"{len(run.examples)} seeded test rows (seed {params.seed}), {budget}. A smaller budget lowers "
            "the success rate: the verdict holds for this budget only. TextAttack counts attacks stopped by the "
            "budget as failed; here they are shown apart.",
        ),
        Table(
            title="What each recipe measures",
            columns=("Recipe", "Kind", "Perturbation", "Reading"),
            rows=tuple(_measures_rows(params)),
        ),
    ]
    if run.unavailable:
        tables.append(
            Table(
                title="Recipes that could not run",
                columns=("Recipe", "Reason"),
                rows=tuple(run.unavailable.items()),
            )
        )
    notes = {
        "rejections": "Protected words: candidate perturbations of the original texts that the recipe would have "
        "offered on protected words. Other constraints: candidates rejected during the search, in the order "
        "applied (a candidate counts against the first constraint that rejects it).",
        "groups": f"Intervals: {params.confidence:.0%} percentile bootstrap over {params.n_boot} resamples of the "
        "sampled rows. A model that is easier to flip for one group is a fairness finding too; with few rows "
        "per group the intervals are wide.",
    }
    tables += [
        Table(
            title=title,
            columns=columns,
            rows=rows(part),
            note=notes.get(part, ""),
            applicant_rows=part == "examples",
        )
        for part, title, columns in RECIPE_TABLES
    ]
    return PluginFindings(
        plugin=plugin,
        title=title,
        summary=_summary(params, run, [r.verdict for r in reports]),
        metrics=tuple(m for r in reports for m in r.metrics),
        tables=tuple(tables),
        charts=tuple(c for r in reports for c in r.charts),
        highlights=tuple(h for r in reports for h in r.highlights),
        notes=tuple(_notes(params, run)),
    )


@dataclass
class RecipeReport:
    """One recipe's share of every table, chart and metric."""

    metrics: list[Metric] = field(default_factory=list)
    summary: list[tuple[Cell, ...]] = field(default_factory=list)
    groups: list[tuple[Cell, ...]] = field(default_factory=list)
    rejections: list[tuple[Cell, ...]] = field(default_factory=list)
    fields: list[tuple[Cell, ...]] = field(default_factory=list)
    words: list[tuple[Cell, ...]] = field(default_factory=list)
    examples: list[tuple[Cell, ...]] = field(default_factory=list)
    charts: list[BarChart] = field(default_factory=list)
    highlights: list[Highlight] = field(default_factory=list)
    verdict: str = ""


def _unavailable(recipe: str, reason: str, plan: AuditPlan) -> RecipeReport:
    """Every declared metric of a recipe that could not run, valued None with the reason (gates on them fail)."""

    note = f"could not run: {reason}"
    metrics = [
        Metric(f"robustness.{recipe}.{f}", None, f"{label} ({recipe})", b, note=note)
        for f, (label, b) in FIGURES.items()
    ]
    metrics += [
        Metric(
            f"robustness.{recipe}.{a}.groups.{metric_key(g)}.{f}", None, f"{label}, {a} = {g} ({recipe})", b, note=note
        )
        for a, groups in plan.attributes.items()
        for g in groups
        for f, (label, b) in GROUP_FIGURES.items()
    ]
    return RecipeReport(metrics=metrics, verdict=f"{recipe} {note}")


def _recipe_report(
    recipe: str, outcomes: list[Outcome], seconds: float, context: AuditContext, params: RobustnessParams, rng: Any
) -> RecipeReport:
    from fmaudit.families.robustness.outcomes import flips, group_rates, most_perturbed, recipe_figures

    data = context.data
    figures = recipe_figures(outcomes)
    report = RecipeReport()
    report.metrics += [
        Metric(
            f"robustness.{recipe}.{f}",
            figures[f],
            f"{label} ({recipe})",
            better,
            note="" if figures[f] is not None else "no example was attacked",
        )
        for f, (label, better) in FIGURES.items()
    ]
    report.summary.append((recipe, params.kind(recipe), *(figures[f] for f in FIGURES), round(seconds, 1)))
    attacked = sum(o.status in ("succeeded", "failed", "budget exhausted") for o in outcomes)
    report.verdict = f"{recipe} flipped {int(figures['successful'] or 0)} of {attacked} attacked"

    bars = []
    for attribute in data.sensitive.columns:
        rates = group_rates(
            outcomes,
            {o.row: str(data.sensitive.at[o.row, attribute]) for o in outcomes},
            attribute=attribute,
            names=context.plan.attributes.get(attribute, []),
            n_boot=params.n_boot,
            confidence=params.confidence,
            rng=rng,
        )
        report.metrics += _group_metrics(recipe, rates)
        report.groups += _group_rows(recipe, rates)
        success, intervals = rates.values["attack_success_rate"], rates.intervals["attack_success_rate"]
        bars += [
            Bar(f"{attribute}: {g}", float(success[i]), ci_low=intervals[i].low, ci_high=intervals[i].high)
            for i, g in enumerate(rates.groups)
            if rates.attacked(i) > 0
        ]
    report.charts.append(
        BarChart(
            title=f"Attack success rate by group: {recipe}",
            bars=tuple(bars),
            unit="share of attacked rows",
            note=f"{params.confidence:.0%} percentile bootstrap intervals; groups without attacked rows are left out.",
        )
    )
    report.rejections += _rejection_rows(recipe, outcomes)
    found = flips(recipe, outcomes, {o.row: data.spans[o.row] for o in outcomes})
    fields, words = most_perturbed(found, limit=10)
    report.fields += [(recipe, *row) for row in fields]
    report.words += [(recipe, *row) for row in words]
    report.examples += [
        (
            recipe,
            f.row,
            ", ".join(dict.fromkeys(c.field for c in f.changes)),
            "; ".join(f"{c.before} → {c.after}" for c in f.changes),
            round(f.score_before, 4),
            round(f.score_after, 4),
            round(f.score_after - f.score_before, 4),
        )
        for f in found
    ]
    report.highlights += [_highlight(f) for f in found[: params.examples]]
    return report


def _group_metrics(recipe: str, rates: GroupRates) -> list[Metric]:

    metrics = []
    for i, group in enumerate(rates.groups):
        for figure, (label, better) in GROUP_FIGURES.items():
            value = finite(rates.values[figure][i])
            interval = rates.intervals[figure][i]
            metrics.append(
                Metric(
                    f"robustness.{recipe}.{rates.attribute}.groups.{metric_key(group)}.{figure}",
                    value,
                    f"{label}, {rates.attribute} = {group} ({recipe})",
                    better,
                    ci_low=interval.low if value is not None else None,
                    ci_high=interval.high if value is not None else None,
                    note="" if value is not None else "no sampled row of this group was attacked",
                )
            )
    return metrics


def _group_rows(recipe: str, rates: GroupRates) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for i, group in enumerate(rates.groups):
        cells = [
            Estimate(finite(rates.values[f][i]), rates.intervals[f][i].low, rates.intervals[f][i].high)
            for f in ("attack_success_rate", "accuracy_under_attack")
        ]
        rows.append(
            (
                recipe,
                rates.attribute,
                group,
                int(rates.counts[i].sum()),
                rates.attacked(i),
                int(rates.counts[i, 1]),
                *cells,
            )
        )
    return rows


def _rejection_rows(recipe: str, outcomes: list[Outcome]) -> list[tuple[Cell, ...]]:
    attacked = [o for o in outcomes if o.result is not None]
    rows: list[tuple[Cell, ...]] = [(recipe, "Protected words (fmaudit)", sum(o.withheld for o in attacked))]
    totals: Counter[str] = Counter()
    for o in attacked:
        totals.update(o.rejected)
    rows += [(recipe, label + (" (fmaudit)" if label == "NoAntonymSwap" else ""), n) for label, n in totals.items()]
    return rows


def _highlight(flip: Flip) -> Highlight:
    """The original text with each changed word (green) followed by its replacement (red)."""
    from textattack.shared.utils import words_from_text

    from fmaudit.families.robustness.constraints import word_spans

    spans = word_spans(flip.original, words_from_text(flip.original))
    tokens: list[Token] = []
    cursor = 0
    for change in flip.changes:
        start, end = spans[change.index]
        tokens += [Token(flip.original[cursor:start], 0.0), Token(change.before, 1.0), Token(" → ", 0.0)]
        tokens.append(Token(change.after, -1.0))
        cursor = end
    tokens.append(Token(flip.original[cursor:], 0.0))
    return Highlight(
        title=f"{flip.recipe}, row {flip.row}: P(favourable) {flip.score_before:.3f} → {flip.score_after:.3f}; "
        f"fields touched: {', '.join(dict.fromkeys(c.field for c in flip.changes))}",
        tokens=tuple(t for t in tokens if t.text),
    )


def _measures_rows(params: RobustnessParams) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for recipe in params.recipes:
        custom = params.custom_recipes.get(recipe)
        perturbation = (
            " + ".join(t.name for t in custom.transformations) + f", search {custom.search.name}"
            if custom is not None
            else BUILTIN_RECIPES[recipe].measures
        )
        rows.append((recipe, params.kind(recipe), perturbation, READING[params.kind(recipe)]))
    return rows


def _notes(params: RobustnessParams, run: AttackRun) -> list[str]:
    c = params.constraints
    protected = [
        *(["the template's own words"] if c.protect_template else []),
        *([f"the fields {', '.join(run.protected_fields)}"] if run.protected_fields else []),
        *(["every number"] if c.protect_numbers else []),
    ]
    notes = [
        "Protected from modification: "
        + ("; ".join(protected) if protected else "nothing (domain constraints off)")
        + ". A change there would describe a different applicant, not an adversarial example.",
        f"Each example is attacked with seed {params.seed} + its row id, in {run.workers} worker process(es); the "
        "results do not depend on the number of workers.",
        "In the highlighted examples the original word is green and its replacement red.",
    ]
    if c.reject_antonyms and any(params.kind(r) == "word substitution" for r in params.recipes):
        notes.append(
            "WordNet antonym check not applied: " + run.missing["wordnet"]
            if "wordnet" in run.missing
            else "Word swaps to a WordNet antonym of the replaced word (any sense) are rejected."
        )
    if "TextFoolerGloVe" in params.recipes:
        notes.append(
            "TextFoolerGloVe rebuilds TextFooler (Jin et al. 2020) offline over GloVe 6B 50d, without its "
            "part-of-speech and sentence-encoder constraints, whose models cannot be had offline: it accepts "
            "more swaps than TextFooler would."
        )
    return notes


def _summary(params: RobustnessParams, run: AttackRun, verdicts: list[str]) -> str:
    c = params.constraints
    guarded = c.protect_template or bool(run.protected_fields) or c.protect_numbers
    return (
        f"{len(params.recipes)} recipe(s) on {len(run.examples)} seeded test rows, query budget "
        f"{params.query_budget} per example, "
        + ("the applicant's facts protected" if guarded else "no domain constraints")
        + ": "
        + "; ".join(verdicts)
        + "."
    )
