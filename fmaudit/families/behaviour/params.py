"""What a spec may declare for the behaviour audit, and the problems only the plan reveals (a field the
template lacks, an order naming a value the data never holds, an alternative template with unknown fields).

Monotonicity is a domain claim: nothing is tested unless declared. Case, number-format and field-order
invariance default to on for text models, where the serialisation is part of the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from fmaudit.core.errors import DataError
from fmaudit.core.findings import metric_key
from fmaudit.data import template_fields
from fmaudit.spec import PluginParams

if TYPE_CHECKING:
    from fmaudit.plugins.context import AuditPlan

TEXT_ONLY = ("case", "number_format", "field_order")
"""Invariance tests that rewrite the serialised text: they mean nothing to a tabular model."""
RESERVED = {"groups", "fields", "audited", "violation_rate", "adverse_flip_rate", "flip_rate"}
"""Names that would collide with a metric path part if used as a field or template name."""


class Monotone(PluginParams):
    """A declared direction for one field: an order of its values, or a direction for a number."""

    order: list[str] | None = Field(
        None, description="ordered categorical: its values from least to most favourable (others are not tested)"
    )
    direction: Literal["increasing", "decreasing"] | None = Field(
        None, description="numeric: which way is favourable ('decreasing' for an amount)"
    )
    steps: list[float] | None = Field(
        None,
        description="moves tested per row: positions up the order (default [1]), or amounts for a number "
        "(required); a move that would leave the observed range stops at its edge",
    )

    @model_validator(mode="after")
    def _order_or_direction(self) -> Monotone:
        if (self.order is None) == (self.direction is None):
            raise ValueError("give either 'order' (a categorical field) or 'direction' with 'steps' (a number)")
        if self.order is not None:
            if len(self.order) < 2 or len(set(self.order)) != len(self.order):
                raise ValueError("'order' needs at least two distinct values")
            if self.steps is not None and any(s < 1 or s != int(s) for s in self.steps):
                raise ValueError("with 'order', 'steps' are whole numbers of positions >= 1")
        elif not self.steps:
            raise ValueError("'direction' needs 'steps': the amounts a row is moved by")
        if self.steps is not None and (not self.steps or any(s <= 0 for s in self.steps)):
            raise ValueError("'steps' must be positive")
        return self

    @property
    def moves(self) -> list[float]:
        return self.steps if self.steps is not None else [1]


class Invariance(PluginParams):
    """Rewritings that must not change the decision."""

    values: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="field -> value -> equivalent writings of that value"
    )
    case: bool | None = Field(None, description="change letter case (text models; default on for them)")
    number_format: bool | None = Field(
        None, description="write numbers with a thousands separator and a decimal point (text models; default on)"
    )
    field_order: int | None = Field(
        None, ge=0, description="random field-order permutations of the template (text models; default 2)"
    )

    def enabled(self, test: str, kind: str) -> bool:
        """Whether a text-only test runs: as declared, else on for text models."""
        declared = getattr(self, test)
        if declared is None:
            return kind == "text"
        return bool(declared)

    @property
    def permutations(self) -> int:
        return 2 if self.field_order is None else self.field_order


class BehaviourParams(PluginParams):
    monotonicity: dict[str, Monotone] = Field(
        default_factory=dict, description="field -> declared favourable order or direction"
    )
    invariance: Invariance = Invariance()
    templates: dict[str, str] = Field(
        default_factory=dict, description="name -> an alternative, equivalent template (text models)"
    )
    rows: int = Field(100, ge=1, description="seeded sample of test rows edited and re-scored")
    tolerance: float = Field(0.01, ge=0, lt=1, description="a score drop larger than this is a violation")
    examples: int = Field(5, ge=0, description="largest violations and flips shown per test")
    min_group_size: int = Field(
        20, ge=1, description="template sensitivity: groups with fewer test rows are not compared in parity ratios"
    )
    min_group_share: float = Field(
        0.02, ge=0, lt=1, description="template sensitivity: nor groups below this share of the test split"
    )
    workers: int = Field(1, ge=1, description="scoring processes (one torch thread each); results do not change")
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples of the rows behind every interval")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0

    @field_validator("monotonicity", "templates")
    @classmethod
    def _usable_names(cls, named: dict[str, object]) -> dict[str, object]:
        bad = [n for n in named if metric_key(n) != n or n in RESERVED]
        if bad:
            raise ValueError(f"names must be usable in a metric path and not one of {sorted(RESERVED)}: {bad}")
        return named


def problems(params: BehaviourParams, plan: AuditPlan) -> list[str]:
    """Every declaration the plan contradicts, as ``key: expected ...; got ...`` lines."""
    fields = list(plan.fields)
    found: list[str] = []
    for name, claim in params.monotonicity.items():
        key = f"monotonicity.{name}"
        if name not in fields:
            found.append(f"{key}: not a template field; expected one of: {', '.join(fields)}")
        elif claim.order is not None and name in plan.numeric_fields:
            found.append(f"{key}.order: {name} is numeric; give 'direction' and 'steps'")
        elif claim.order is not None:
            observed = plan.categories.get(name, ())
            found += [
                f"{key}.order: {value!r} is not a value of {name}; values: {', '.join(observed)}"
                for value in claim.order
                if value not in observed
            ]
        elif name not in plan.numeric_fields:
            found.append(f"{key}.direction: {name} is categorical; give its values in 'order'")
    for name, writings in params.invariance.values.items():
        key = f"invariance.values.{name}"
        if name not in fields:
            found.append(f"{key}: not a template field; expected one of: {', '.join(fields)}")
            continue
        if name in plan.categories:
            found += [
                f"{key}: {value!r} is not a value of {name}; values: {', '.join(plan.categories[name])}"
                for value in writings
                if value not in plan.categories[name]
            ]
    if plan.model_kind != "text":
        found += [
            f"invariance.{test}: rewrites the serialised text; got model.kind: {plan.model_kind}"
            for test in TEXT_ONLY
            if getattr(params.invariance, test)
        ]
        found += [f"templates.{name}: a tabular model reads no template" for name in params.templates]
    for name, template in params.templates.items():
        try:
            used = template_fields(template)
        except DataError as exc:
            found.append(f"templates.{name}: {str(exc).removeprefix('data.template: ')}")
            continue
        unknown = [f for f in used if f not in fields]
        if unknown:
            found.append(
                f"templates.{name}: uses fields the audited template does not: {', '.join(unknown)}; "
                f"expected some of: {', '.join(fields)}"
            )
    return found
