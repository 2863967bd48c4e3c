"""Plan a run: validate the spec, load the data and match every gate to a metric, without training.

``plan`` does everything that can fail on bad input (spec, data, gate paths) without importing torch, so
``fmaudit validate`` is fast and a run fails before any training when its input is wrong.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmaudit.core.errors import DataError, SpecError
from fmaudit.core.provenance import sha256_file
from fmaudit.data import (
    INTERSECTION_JOIN,
    PreparedData,
    field_values,
    intersection_name,
    is_numeric,
    prepare,
    template_fields,
    with_trained_rows,
)
from fmaudit.metrics.gates import Gate, check_gate_paths, parse_gate
from fmaudit.metrics.seed_spread import replica_paths, spread_base
from fmaudit.models.sources import id_column, source_path
from fmaudit.plugins.base import AuditPlan, AuditPlugin, MembershipRequest, PluginParams
from fmaudit.plugins.registry import resolve_plugins
from fmaudit.report.formats import unknown_formats
from fmaudit.spec import LoadedSpec, read_spec

Progress = Callable[[str], None]


def default_cache_dir() -> Path:
    """``$FMAUDIT_CACHE_DIR``, else the user cache directory (XDG)."""
    if os.environ.get("FMAUDIT_CACHE_DIR"):
        return Path(os.environ["FMAUDIT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "fmaudit"


@dataclass(frozen=True)
class Plan:
    """A validated spec with its data loaded and every gate matched to a metric."""

    loaded: LoadedSpec
    data: PreparedData
    data_sha256: str
    audit_plan: AuditPlan
    plugins: dict[str, AuditPlugin[Any]]
    params: dict[str, PluginParams]
    """Each plugin's ``audits.<name>`` section, validated by the plugin's own Params model."""
    metric_paths: dict[str, list[str]]
    gates: list[Gate]

    @property
    def headline_paths(self) -> list[str]:
        """The figures every plugin leads with (the seed spread reports theirs)."""
        return [
            path
            for name, plugin in self.plugins.items()
            for path in plugin.headline_paths(self.params[name], self.audit_plan)
        ]

    @property
    def membership_request(self) -> MembershipRequest | None:
        """What the first plugin asking for membership-inference inputs needs (only the privacy plugin does)."""
        for name, plugin in self.plugins.items():
            request = plugin.membership_request(self.params[name], self.audit_plan)
            if request is not None:
                return request
        return None


GATED_SECTIONS = frozenset({"model", "data", "training", "audits", "gates"})
"""Sections that decide which metric paths a run produces: with a bad value left out of one, gates are not
checked (an unknown metric would be an artefact of the default that stood in)."""


def plan(spec_path: str | Path) -> Plan:
    """Validate the spec, load the data and check every gate's metric path; no training. Schema, data, plugin
    and gate problems are reported together, except where an earlier one makes a later check meaningless."""
    loaded, problems = read_spec(spec_path)
    if loaded is None or "data" in loaded.left_out:
        raise SpecError(problems)
    spec = loaded.spec
    source = spec.model.source
    try:
        data = prepare(spec.data, base_dir=loaded.base_dir)
        if source is not None and source.trained_on is not None:
            data = with_trained_rows(data, source.trained_on, base_dir=loaded.base_dir, id_column=id_column(spec.data))
    except DataError as exc:  # each problem names the spec file, as spec problems do
        lines = [f"{loaded.path}: {line}" for line in str(exc).splitlines()]
        if problems:
            raise SpecError(problems + lines) from exc
        raise DataError("\n".join(lines)) from exc
    privacy = spec.training.privacy
    n_train = data.n_train
    if privacy is not None and privacy.delta >= 1 / n_train and not privacy.allow_large_delta:
        problems.append(
            f"{loaded.path}: training.privacy.delta: must be below 1/N = {1 / n_train:.2e} "
            f"for N = {n_train} training rows (or set allow_large_delta: true); got {privacy.delta:g}"
        )
    attributes = {name: sorted(data.sensitive[name].unique()) for name in spec.data.sensitive}
    # Every combination of an intersection, including those with no rows: an empty cell is a finding too.
    attributes.update(
        {
            intersection_name(c): [INTERSECTION_JOIN.join(p) for p in itertools.product(*(attributes[a] for a in c))]
            for c in spec.data.intersections
        }
    )
    fields = tuple(template_fields(spec.data.template))
    sensitive_columns = {s.column for s in spec.data.sensitive.values()}
    audit_plan = AuditPlan(
        attributes=attributes,
        private=privacy is not None,
        intersections=tuple(intersection_name(c) for c in spec.data.intersections),
        model_kind=spec.model.kind,
        fields=fields,
        sensitive_fields=tuple(f for f in fields if f in sensitive_columns),
        twin=privacy is not None and privacy.compare,
        sweep=tuple(e for e in privacy.sweep if e != privacy.target_epsilon) if privacy is not None else (),
        categories={f: field_values(data.frame[f]) for f in fields if not is_numeric(data.frame[f])},
        numeric_fields=tuple(f for f in fields if is_numeric(data.frame[f])),
        model_source=source.format if source is not None else "",
        training_rows_known=source is None or source.trained_on is not None,
        columns=tuple(str(c) for c in data.frame.columns),
        numeric_columns=tuple(str(c) for c in data.frame.columns if is_numeric(data.frame[c])),
    )
    problems += [f"{loaded.path}: output.formats: {problem}" for problem in unknown_formats(spec.output.formats)]
    if source is not None and not source_path(source, base_dir=loaded.base_dir).exists():
        problems.append(f"{loaded.path}: model.source.path: not found: {source_path(source, base_dir=loaded.base_dir)}")
    try:
        plugins, params = resolve_plugins(loaded)
    except SpecError as exc:
        raise SpecError(problems + exc.problems) from exc
    plugin_problems = [
        f"{loaded.path}: audits.{name}.{problem}"
        for name, plugin in plugins.items()
        for problem in plugin.check(params[name], audit_plan)
    ]
    plugin_problems += [
        f"{loaded.path}: audits.{name}: needs the model (it scores rows the test split does not hold); "
        "model.source.format: scores gives only the model's scores (remove this audit, or give the model)"
        for name, plugin in plugins.items()
        if plugin.needs_model and not audit_plan.can_rescore
    ]
    params = {name: plugin.adapted(params[name], audit_plan) for name, plugin in plugins.items()}
    if plugin_problems or GATED_SECTIONS & loaded.left_out:
        raise SpecError(problems + plugin_problems)
    paths = {name: plugins[name].metric_paths(params[name], audit_plan) for name in plugins}
    gates, gate_problems = parse_gates(spec.gates, paths, replicas=bool(spec.training.seed_replicas), where=loaded.path)
    if problems or gate_problems:
        raise SpecError(problems + gate_problems)
    return Plan(
        loaded=loaded,
        data=data,
        data_sha256=sha256_file(data.source_path),
        audit_plan=audit_plan,
        plugins=plugins,
        params=params,
        metric_paths=paths,
        gates=gates,
    )


def parse_gates(
    texts: list[str], paths: dict[str, list[str]], *, replicas: bool, where: Path
) -> tuple[list[Gate], list[str]]:
    """The spec's gates and every problem with them: syntax, unknown metric paths, bounds of spread figures."""
    gates, problems = [], []
    for text in texts:
        try:
            gates.append(parse_gate(text))
        except SpecError as exc:
            problems += [f"{where}: gates: {line}" for line in exc.problems]
    known = [p for group in paths.values() for p in group]
    if replicas:  # gateable spread figures: <path>.replica_min / .replica_max
        known += replica_paths(known)
    try:
        check_gate_paths(gates, known, where=str(where))
    except SpecError as exc:
        problems += exc.problems
    problems += [
        f"{where}: gates: {g.text!r} reads {g.bound} of a seed-spread figure, which has no interval "
        f"(gate on {g.metric_path!r} itself)"
        for g in gates
        if g.bound is not None and spread_base(g.metric_path) != g.metric_path
    ]
    return gates, problems
