"""findings.json (schema version 2) as types: what every renderer, built-in or registered, may read.

``document.build_document`` writes this shape and ``document.load_document`` reads it back; the renderers take
a ``FindingsDocument`` and nothing else. Nested parts the plugins define (tables, charts, highlights) follow the
frozen records of ``fmaudit.core.findings`` field by field.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired  # typing's own from Python 3.11


class MetricEntry(TypedDict):
    """One metric as a section lists it (``fmaudit.core.findings.Metric``)."""

    path: str
    value: float | None
    label: str
    better: str
    ci_low: float | None
    ci_high: float | None
    note: str


class TableEntry(TypedDict):
    """``fmaudit.core.findings.Table``: rows hold strings, numbers or None."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str
    applicant_rows: bool
    shown_rows: int | None
    csv_name: str


class SectionEntry(TypedDict):
    """One plugin's findings (``fmaudit.core.findings.PluginFindings``)."""

    plugin: str
    title: str
    summary: str
    metrics: list[MetricEntry]
    tables: list[TableEntry]
    charts: list[dict[str, Any]]
    """Bar or line charts (``BarChart`` / ``LineChart`` fields), laid out by ``fmaudit.report.charts``."""
    highlights: list[dict[str, Any]]
    notes: list[str]
    seconds: float


class GateEntry(TypedDict):
    gate: str
    observed: float | None
    passed: bool
    reason: str
    caution: str


class ComparedEntry(TypedDict):
    """Another model the run trained: the non-private twin (with its own report) or a sweep point."""

    role: str
    label: str
    report: str | None
    training: dict[str, Any]


class DataEntry(TypedDict):
    source: str
    rows: int
    train_rows: int
    test_rows: int
    favourable_label: str
    favourable_share: float | None
    """None in a monitoring report on current rows without labels."""
    group_sizes: dict[str, Any]
    template: str
    example_text: str


class FindingsDocument(TypedDict):
    """The whole of findings.json."""

    fmaudit_report: int
    """The schema version (2)."""
    name: str
    role: Literal["audited", "twin", "monitor"]
    """"monitor": ``fmaudit monitor``'s report, the audited model on current rows (``monitored_run`` says which)."""
    redacted: bool
    description: str
    verdict: Literal["pass", "fail"] | None
    """None for the twin's report, which gates do not judge."""
    gates: list[GateEntry]
    metrics: dict[str, Any]
    """Every metric as a tree keyed by the parts of its dotted path; leaves hold value, interval, better, label."""
    sections: list[SectionEntry]
    training: dict[str, Any]
    """The audited model's training record (``fmaudit.training.records.TrainingRecord``)."""
    compared_models: list[ComparedEntry]
    replicas: dict[str, Any] | None
    """The spread over seed replicas (``fmaudit.metrics.seed_spread.SeedSpread.to_dict``), or None."""
    data: DataEntry
    provenance: dict[str, Any]
    """Hashes, versions and stage times (``fmaudit.core.provenance.Provenance``)."""
    resolved_spec: dict[str, Any]
    seconds: float
    monitored_run: NotRequired[MonitoredRun]
    """Only in a monitoring report: the audited run it compares against."""


class MonitoredRun(TypedDict):
    """The run a monitoring report reads: its id and directory, the audited weights, its test split's size."""

    run_id: str
    run_dir: str
    weights_sha256: str
    model: str
    """Where the scored model came from: the run's model cache or an export directory."""
    reference_rows: int


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's own words (for messages about a malformed file)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
