"""Random streams keyed by (seed, figure path): a figure's draws never depend on another figure's settings, and
the same spec gives the same findings.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from fmaudit.core.errors import ExitCode
from fmaudit.core.intervals import stream, torch_seed
from fmaudit.data import PreparedData, template_fields
from fmaudit.families.explanations.fields import field_model, perturbation_attributions
from fmaudit.families.explanations.plugin import ExplanationsParams, ExplanationsPlugin
from fmaudit.spec import Spec
from tests.support.explanations import HISTORY_WEIGHTS, context_for, synthetic_classifier
from tests.support.runs import VOLATILE, load_run, run_cli, without_volatile
from tests.support.specs import GERMAN_CREDIT_SPEC, tabular_spec


def test_a_stream_is_fixed_by_seed_and_key_alone() -> None:
    first = stream(0, "fairness.sex").integers(0, 2**32, 4)
    assert np.array_equal(first, stream(0, "fairness.sex").integers(0, 2**32, 4))
    # Pinned: the key is hashed with SHA-256, not Python's per-process salted hash(), so every run draws this.
    assert first.tolist() == [584152487, 3683977523, 3742246827, 2667763]
    assert not np.array_equal(first, stream(0, "fairness.age_group").integers(0, 2**32, 4))
    assert not np.array_equal(first, stream(1, "fairness.sex").integers(0, 2**32, 4))
    assert stream(-1, "x", 3).random() != stream(-1, "x", 4).random()  # negative seeds and per-row keys work
    assert 0 <= torch_seed(0, "explanations.shapley", 7) < 2**63
    assert torch_seed(0, "explanations.shapley", 7) != torch_seed(0, "explanations.shapley", 8)


def test_a_rows_shapley_values_do_not_depend_on_the_rows_attributed_with_it(
    wide_spec: Spec, wide_data: PreparedData
) -> None:
    weights = {"credit_history": HISTORY_WEIGHTS, "duration_in_month": -1.0, "credit_amount": -1.0, "age_in_years": 1.0}
    classifier = synthetic_classifier(wide_data, weights)
    fields = template_fields(wide_spec.data.template)
    reference = wide_data.frame.iloc[wide_data.test_idx][fields].iloc[0].to_dict()
    explained = field_model(classifier, wide_data, fields=fields, reference=reference, template="")
    rows = wide_data.test_idx[:6]
    seeds = [torch_seed(0, "explanations.shapley", int(r)) for r in rows]

    def shapley(chosen: np.ndarray, chosen_seeds: list[int]) -> np.ndarray:
        batch = explained.build(chosen)
        return perturbation_attributions(
            explained, batch, method="shapley_value_sampling", shapley_samples=2, seeds=chosen_seeds
        )

    together = shapley(rows, seeds)
    assert np.array_equal(together[[1, 4]], shapley(rows[[1, 4]], [seeds[1], seeds[4]]))
    assert not np.array_equal(together, shapley(rows, seeds[::-1]))  # the seeds do matter: the check has teeth


def test_changing_notices_or_chunks_leaves_every_sample_figure_unchanged(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    classifier = synthetic_classifier(wide_data, {"credit_history": HISTORY_WEIGHTS, "duration_in_month": -1.0})
    context = context_for(wide_spec, wide_data, classifier, tmp_path)
    params = ExplanationsParams(
        samples=8,
        notices=6,
        seed=3,
        chunk_size=3,
        perturbation="shapley_value_sampling",
        shapley_samples=2,
        sensitivity_samples=2,
        infidelity_samples=3,
        random_orders=2,
    )
    base = ExplanationsPlugin().run(context, params)
    fewer = ExplanationsPlugin().run(context, params.model_copy(update={"notices": 2}))

    def sample_figures(findings: Any) -> dict[str, Any]:
        return {m.path: m for m in findings.metrics if not m.path.startswith("explanations.notices.")}

    def notice_rows(findings: Any) -> list[Any]:
        return list(next(t for t in findings.tables if t.title.startswith("Adverse-action notices")).rows)

    assert sample_figures(fewer) == sample_figures(base)
    assert base.charts[:2] == fewer.charts[:2]  # global importance by both methods
    assert 0 < len(notice_rows(fewer)) < len(notice_rows(base))
    # A notice's reasons and reason check are its own: the fewer notices are among the first run's.
    assert set(notice_rows(fewer)) <= set(notice_rows(base))

    rechunked = ExplanationsPlugin().run(context, params.model_copy(update={"chunk_size": 5}))
    for path, figure in sample_figures(base).items():
        other = sample_figures(rechunked)[path].value
        assert (other is None) == (figure.value is None), path
        if other is not None:  # float32 sums in batches of another size differ in the last bits
            assert other == pytest.approx(figure.value, rel=1e-6, abs=1e-6), path
    assert set(notice_rows(rechunked)) == set(notice_rows(base))


# --- whole runs ---------------------------------------------------------------------------------------------------


def stream_spec(**audits: Any) -> dict[str, Any]:
    """A fast tabular audit with every family that runs on a tabular model."""
    spec = tabular_spec(copy.deepcopy(GERMAN_CREDIT_SPEC))
    spec["training"]["epochs"] = 2
    spec["audits"] = {
        "performance": {"n_boot": 40},
        "fairness": {"n_boot": 40, "min_group_size": 5, "counterfactual_rows": 40},
        "explanations": {"samples": 10, "notices": 6, "n_steps": 8, "sensitivity_samples": 2, "infidelity_samples": 3},
        "privacy": {"n_boot": 40, "members": 40},
        **audits,
    }
    spec["gates"] = []
    return spec


def flat_metrics(findings: dict[str, Any]) -> dict[str, str]:
    """Each metric path -> its whole record (value, interval, note) as JSON text, for byte comparison."""
    flat: dict[str, str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        if "value" in node and "better" in node:
            flat[prefix] = json.dumps(node, sort_keys=True)
            return
        for key, child in node.items():
            walk(child, f"{prefix}.{key}" if prefix else key)

    walk(findings["metrics"], "")
    return flat


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Write a spec to ``name``.yaml, run it into ``out`` (one model cache for all), return findings.json as text
    and parsed."""
    work = tmp_path_factory.mktemp("streams")

    def run(spec: dict[str, Any], name: str, out: str) -> tuple[str, dict[str, Any]]:
        path = work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        out, cache = str(work / out), str(work / "cache")
        code, stdout = run_cli(["run", str(path), "--out", out, "--cache-dir", cache, "--quiet"])
        assert code == ExitCode.OK, stdout
        report = load_run(code, stdout).report_dir
        text = (report / "findings.json").read_text()
        return text, json.loads(text)

    return run


@pytest.mark.slow
def test_the_same_spec_twice_gives_the_same_findings_json(audit) -> None:  # type: ignore[no-untyped-def]
    first_text, first = audit(stream_spec(), "same", "first")
    second_text, second = audit(stream_spec(), "same", "second")
    assert first["provenance"]["run_id"] != second["provenance"]["run_id"]
    assert without_volatile(first) == without_volatile(second)
    # Byte for byte: the files have the same lines, and the lines that differ hold a volatile field.
    lines = list(zip(first_text.splitlines(), second_text.splitlines(), strict=True))
    differing = [a for a, b in lines if a != b]
    assert all(any(f'"{key}":' in line for key in VOLATILE) for line in differing), differing


@pytest.mark.slow
def test_another_attribute_or_fewer_notices_leave_every_other_figure_byte_identical(audit) -> None:  # type: ignore[no-untyped-def]
    _, base = audit(stream_spec(), "base", "base")
    spec = stream_spec()
    # First in the spec, so its draws would come before every other attribute's from one shared generator.
    spec["data"]["sensitive"] = {"telephone": {"column": "telephone"}, **spec["data"]["sensitive"]}
    spec["audits"]["explanations"]["notices"] = 3
    _, changed = audit(spec, "changed", "changed")
    before, after = flat_metrics(base), flat_metrics(changed)
    new = {p for p in after if p not in before}
    assert new and all(p.startswith(("fairness.telephone.", "explanations.by_group.telephone.")) for p in new)
    moved = {p for p in before if before[p] != after.get(p)}
    # Moved, by definition rather than by drawing: the notices' figures; adjusted p-values and the count of
    # significant gaps, whose Holm family holds every attribute's comparisons; the all-columns baseline, which
    # leaves out the sensitive columns.
    by_definition = (
        "explanations.notices.",
        "performance.baselines.logistic_regression_all_columns.",
        "fairness.significant_gaps",
    )
    assert {p for p in moved if not p.startswith(by_definition) and not p.endswith(".p_value")} == set()
    assert {p for p in moved if p.startswith("explanations.notices.")}
