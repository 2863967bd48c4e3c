"""``training.seed_replicas``: the spec key, the replicas' seeds and cache keys, the spread of each figure over
the replicas (recomputed here from each replica's own model with scikit-learn and fairlearn), gates on
``<path>.replica_min`` / ``.replica_max``, and the flag raised when a gate's verdict depends on the seed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from fmaudit.core.errors import ExitCode, SpecError
from fmaudit.core.findings import Findings, Metric, PluginFindings
from fmaudit.engine.pipeline import plan, run, score_test_split, train
from fmaudit.metrics.gates import evaluate, parse_gate
from fmaudit.metrics.seed_spread import Replica, seed_spread, with_spread_cautions
from fmaudit.spec import DataSpec, TrainingSpec
from fmaudit.training.cache import cache_key
from tests.support.specs import GERMAN_CREDIT_SPEC


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        plan(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("given", "expected"), [(-1, "greater than or equal to 0"), (1000, "less than or equal to 20")]
)
def test_a_negative_or_absurd_replica_count_names_file_and_key(spec_dict, write_spec, given, expected) -> None:  # type: ignore[no-untyped-def]
    spec_dict["training"]["seed_replicas"] = given
    path = write_spec(spec_dict)
    [line] = problems(path)
    assert line.startswith(f"{path}: training.seed_replicas: ") and expected in line and repr(given) in line


def test_replicas_take_the_next_seeds_and_leave_the_audited_models_cache_key_alone(spec_dict) -> None:  # type: ignore[no-untyped-def]
    data_spec = DataSpec.model_validate(spec_dict["data"])

    def key(training: TrainingSpec) -> str:
        return cache_key(base_model_sha256="b", data_spec=data_spec, data_sha256="d", training=training)

    training = TrainingSpec(seed=5, seed_replicas=3)
    assert TrainingSpec().seed_replicas == 0 and TrainingSpec().replica_seeds == ()
    assert training.replica_seeds == (6, 7, 8)
    # How many replicas a run trains chooses models, not weights: the audited model's key is unchanged (and
    # the key pinned at cache format 8 in test_adapters still holds with replicas asked for).
    assert key(training) == key(TrainingSpec(seed=5))
    assert key(TrainingSpec(seed_replicas=2)) == "525c275723e23908e51fdba1bf12b1fa"
    # Each replica's own seed does enter its key: every replica is cached, under the key of a plain seed-s run.
    replica_keys = [key(training.model_copy(update={"seed": s})) for s in training.replica_seeds]
    assert len({key(training), *replica_keys}) == 4
    assert replica_keys == [key(TrainingSpec(seed=s)) for s in (6, 7, 8)]


def test_spread_gates_are_known_only_when_replicas_are_trained(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["gates"] = [
        "performance.roc_auc.replica_min >= 0.6",
        "fairness.sex.demographic_parity_ratio.replica_max <= 1",
    ]
    [first, second] = problems(write_spec(spec_dict))
    assert "names unknown metric 'performance.roc_auc.replica_min'" in first
    assert "'fairness.sex.demographic_parity_ratio.replica_max'" in second
    spec_dict["training"]["seed_replicas"] = 2
    assert [g.path for g in plan(write_spec(spec_dict)).gates] == [
        "performance.roc_auc.replica_min",
        "fairness.sex.demographic_parity_ratio.replica_max",
    ]
    spec_dict["gates"] = ["performance.roc_auc.replica_min.ci_low >= 0.6"]  # a spread figure has no interval
    [bounded] = problems(write_spec(spec_dict))
    assert "reads ci_low of a seed-spread figure, which has no interval" in bounded
    assert "gate on 'performance.roc_auc.replica_min' itself" in bounded


def findings(roc_auc: float, ci_low: float, *, parity: float | None = 0.9, twin_gap: bool = False) -> Findings:
    metrics = (
        Metric("performance.roc_auc", roc_auc, "ROC AUC", "higher", ci_low, roc_auc + 0.05),
        Metric("performance.accuracy", 0.7, "Accuracy", "higher"),
    )
    fairness = (Metric("fairness.sex.demographic_parity_ratio", parity, "DP ratio", "higher"),)
    privacy = (Metric("privacy.cost.roc_auc_drop", 0.01, "ROC AUC lost to DP", "lower"),) * twin_gap
    return Findings(
        (
            PluginFindings("performance", "Performance", "", metrics),
            PluginFindings("fairness", "Fairness", "", fairness),
            PluginFindings("privacy", "Privacy", "", privacy),
        )
    )


def replica(seed: int, found: Findings) -> Replica:
    return Replica(seed, found, f"key{seed}", f"sha{seed}", False, 1.0)


HEADLINE = ("performance.roc_auc", "fairness.sex.demographic_parity_ratio")
"""What the performance and fairness plugins lead with, of the figures these findings hold."""

GATES = [
    parse_gate(text)
    for text in (
        "performance.roc_auc >= 0.72",
        "performance.roc_auc.ci_low >= 0.6",
        "fairness.sex.demographic_parity_ratio >= 0.8",
        "privacy.cost.roc_auc_drop <= 0.1",
        "performance.roc_auc.replica_min >= 0.71",
    )
]


def test_the_flag_fires_on_the_seeds_where_a_gate_would_flip() -> None:
    audited = findings(0.75, 0.65, twin_gap=True)
    replicas = [
        replica(1, findings(0.78, 0.66)),  # every gate as on the audited model
        replica(2, findings(0.70, 0.61)),  # the point-estimate gate fails here
        replica(3, findings(0.74, 0.55, parity=None)),  # the interval gate fails; parity not measured: fails too
    ]
    spread = seed_spread(audited, replicas, GATES, audited_seed=0, private=True, headline=HEADLINE)
    rows = {row.path: row for row in spread.rows}
    # Headline figures first (in findings order), then gated ones; accuracy is neither.
    assert list(rows) == [
        "performance.roc_auc",
        "fairness.sex.demographic_parity_ratio",
        "privacy.cost.roc_auc_drop",
    ]
    auc = rows["performance.roc_auc"]
    assert (auc.audited, auc.values, auc.min, auc.median, auc.max) == (0.75, (0.78, 0.70, 0.74), 0.70, 0.74, 0.78)
    assert auc.gates == ("performance.roc_auc >= 0.72", "performance.roc_auc.ci_low >= 0.6")
    assert auc.flipped_seeds == (2, 3)
    [_, interval] = auc.checks
    assert [(seed, result.observed, result.passed) for seed, result in interval.flipped(auc.seeds)] == [
        (3, 0.55, False)
    ]
    parity = rows["fairness.sex.demographic_parity_ratio"]
    assert parity.flipped_seeds == (3,) and parity.min == 0.9 and len(parity.measured) == 2
    # The twin comparison exists only for the audited model: not comparable on replicas, so never a flag.
    drop = rows["privacy.cost.roc_auc_drop"]
    assert drop.values == (None, None, None) and drop.flipped_seeds == () and "not produced" in drop.note
    assert [row.verdict for row in rows.values()] == ["differs", "differs", "not comparable"]
    document = spread.to_dict()
    assert document["seed_dependent_gates"] == [
        "fairness.sex.demographic_parity_ratio >= 0.8",
        "performance.roc_auc >= 0.72",
        "performance.roc_auc.ci_low >= 0.6",
    ]
    [point, bound] = document["rows"][0]["gate_checks"]  # what each gate read where its verdict flipped
    assert point["flipped"] == [{"seed": 2, "observed": 0.70, "passed": False}]
    assert bound["audited"] == {"observed": 0.65, "passed": True} and bound["replicas"][2]["observed"] == 0.55
    assert document["rows"][2]["gate_checks"][0]["replicas"] == [None, None, None]
    assert any("DP noise" in note for note in document["notes"]) and any("D'Amour" in n for n in document["notes"])
    without_dp = seed_spread(audited, replicas, GATES, audited_seed=0, private=False, headline=HEADLINE)
    assert not any("DP noise" in n for n in without_dp.notes)
    json.dumps(document, allow_nan=False)  # findings.json material

    nothing_flips = seed_spread(audited, replicas[:1], GATES, audited_seed=0, private=False, headline=HEADLINE)
    assert [row.verdict for row in nothing_flips.rows] == ["same", "same", "not comparable"]


def test_a_verdict_the_same_on_every_replica_is_printed_with_the_chance_a_new_seed_flips_it() -> None:
    """0 changes in k seeds bound a new seed's flip probability by 1 − 0.05^(1/k) (one-sided 95%), not by 0."""
    audited = findings(0.75, 0.65)
    for k, bound in ((1, "95%"), (4, "53%"), (10, "26%")):
        replicas = [replica(seed, findings(0.75, 0.65)) for seed in range(1, k + 1)]
        spread = seed_spread(audited, replicas, GATES, audited_seed=0, private=False, headline=HEADLINE)
        auc = next(row for row in spread.rows if row.path == "performance.roc_auc")
        assert auc.verdict == "same"
        assert auc.verdict_text == (
            f"same on {k} of {k} seeds; a new seed could still change it with probability up to {bound} "
            "(one-sided 95% bound)"
        )
        assert spread.to_dict()["rows"][0]["verdict_text"] == auc.verdict_text
    flipped = seed_spread(audited, [replica(2, findings(0.70, 0.61))], GATES, audited_seed=0, private=False)
    assert flipped.rows[0].verdict_text == "differs on seed 2"


def test_a_gate_is_noted_where_its_figure_spreads_over_seeds_wider_than_its_interval() -> None:
    """ROC AUC 0.75 [0.65, 0.80] (width 0.15): replicas at 0.70 and 0.78 span 0.08, inside the width; a replica at
    0.58 makes the spread 0.20, wider than the interval, and the gate says so though it passes."""
    gates = [
        parse_gate("performance.roc_auc.ci_low >= 0.6"),
        parse_gate("fairness.sex.demographic_parity_ratio >= 0.8"),
    ]
    audited = findings(0.75, 0.65)
    narrow = [replica(1, findings(0.70, 0.6)), replica(2, findings(0.78, 0.7))]
    wide = [*narrow, replica(3, findings(0.58, 0.5))]
    for replicas, noted in ((narrow, False), (wide, True)):
        spread = seed_spread(audited, replicas, gates, audited_seed=0, private=True)
        auc, parity = with_spread_cautions(evaluate(gates, audited.metrics()), spread, audited.metrics())
        assert auc.passed and parity.passed and parity.caution == ""  # the parity ratio has no interval to compare
        assert auc.reason == ""
        if noted:
            assert auc.caution == (
                "spread over the audited model and 3 seed replicas (0.2) is wider than this figure's interval "
                "(0.15): another training run may give another verdict"
            )
        else:
            assert auc.caution == ""


@pytest.mark.parametrize(("threshold", "passes"), [(0.70, True), (0.705, False)])
def test_a_gate_on_the_replica_minimum_reads_the_lowest_replica(threshold: float, passes: bool) -> None:
    replicas = [replica(1, findings(0.78, 0.7)), replica(2, findings(0.70, 0.6)), replica(3, findings(0.74, 0.6))]
    spread = seed_spread(findings(0.75, 0.65), replicas, [], audited_seed=0, private=False, headline=HEADLINE)
    gates = [
        parse_gate(f"performance.roc_auc.replica_min >= {threshold}"),
        parse_gate("performance.roc_auc.replica_max < 0.78"),
    ]
    [low, high] = evaluate(gates, {**findings(0.75, 0.65).metrics(), **spread.metrics()})
    assert (low.observed, low.passed) == (0.70, passes)
    assert (high.observed, high.passed) == (0.78, False)
    # A figure no replica measured gives a spread gate nothing to pass on.
    unmeasured = seed_spread(
        findings(0.75, 0.65),
        [replica(1, findings(0.7, 0.6, parity=None))],
        [],
        audited_seed=0,
        private=False,
        headline=HEADLINE,
    )
    [result] = evaluate([parse_gate("fairness.sex.demographic_parity_ratio.replica_min >= 0")], unmeasured.metrics())
    assert result.observed is None and not result.passed


def test_a_spread_bound_is_undefined_when_any_replica_measured_nothing() -> None:
    """Parity ratios (0.85, None, None, None) must not pass ``replica_min >= 0.8``: three seeds gave no ratio."""
    replicas = [replica(1, findings(0.7, 0.6, parity=0.85))]
    replicas += [replica(seed, findings(0.7, 0.6, parity=None)) for seed in (2, 3, 4)]
    spread = seed_spread(findings(0.75, 0.65), replicas, [], audited_seed=0, private=False, headline=HEADLINE)
    gates = [parse_gate(f"fairness.sex.demographic_parity_ratio.{b} >= 0.8") for b in ("replica_min", "replica_max")]
    for result in evaluate(gates, spread.metrics()):
        assert result.observed is None and not result.passed
        assert result.reason == "undefined: not measured on 3 of 4 replicas (seed 2, 3, 4)"
    # Where every replica measured it, the bound is the extreme replica.
    assert spread.metrics()["performance.roc_auc.replica_min"].value == 0.7


ROC_AUC_GATE = 0.75
"""Near the tiny MLP's ROC AUC (about 0.7 to 0.8 across seeds), so the verdict may well depend on the seed."""


def tabular_replica_spec(spec: dict[str, Any]) -> dict[str, Any]:
    spec["model"] = {"kind": "tabular", "hidden": [16]}
    spec["data"]["max_rows"] = 300
    spec["training"] = {
        "epochs": 3,
        "batch_size": 16,
        "learning_rate": 5e-3,
        "class_weight": "balanced",
        "seed": 3,
        "seed_replicas": 3,
    }
    spec["audits"] = {"performance": {"n_boot": 20}, "fairness": {"n_boot": 20, "min_group_size": 5}, "privacy": {}}
    # The majority baseline is 0.5 on every replica by definition: the first gate passes only if each replica's
    # figure reached the spread, the second must fail.
    spec["gates"] = [
        "performance.baselines.majority.balanced_accuracy.replica_min == 0.5",
        "performance.baselines.majority.balanced_accuracy.replica_max < 0.5",
        f"performance.roc_auc.replica_min >= {ROC_AUC_GATE:g}",
        f"performance.roc_auc >= {ROC_AUC_GATE:g}",
    ]
    return spec


@pytest.fixture(scope="module")
def replica_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    tmp = tmp_path_factory.mktemp("replicas")
    path = tmp / "replicas.yaml"
    path.write_text(yaml.safe_dump(tabular_replica_spec(json.loads(json.dumps(GERMAN_CREDIT_SPEC))), sort_keys=False))
    result = run(path, out=tmp / "reports", cache_dir=tmp / "cache", show_progress_bars=False)
    return path, tmp / "cache", result


@pytest.fixture(scope="module")
def recomputed(replica_run) -> dict[int, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Per training seed (the audited model's and each replica's), its headline figures recomputed with
    scikit-learn and fairlearn from its own model, loaded back from the run's cache."""
    path, cache, result = replica_run
    document = json.loads((result.report_dir / "findings.json").read_text())
    the_plan = plan(path)
    data = the_plan.data
    sex = data.sensitive["sex"].to_numpy()[data.test_idx]
    keys = {3: document["training"]["cache_key"]}
    keys.update({m["seed"]: m["cache_key"] for m in document["replicas"]["models"]})
    figures = {}
    for seed, key in keys.items():
        training = the_plan.loaded.spec.training.model_copy(update={"seed": seed})
        classifier, record = train(the_plan, training, cache_dir=cache, show_progress=False)
        assert record.from_cache and record.cache_key == key  # each model was cached by its seed
        predictions = score_test_split(the_plan, classifier, show_progress=False)
        labels, scores, decisions = predictions.labels, predictions.scores, predictions.decisions
        figures[seed] = {
            "performance.roc_auc": float(roc_auc_score(labels, scores)),
            "performance.balanced_accuracy": float(balanced_accuracy_score(labels, decisions)),
            "fairness.sex.demographic_parity_ratio": float(
                demographic_parity_ratio(labels, decisions, sensitive_features=sex)
            ),
            "fairness.sex.equalized_odds_difference": float(
                equalized_odds_difference(labels, decisions, sensitive_features=sex)
            ),
        }
    return figures


def test_the_spread_equals_each_replicas_figures_recomputed_with_sklearn_and_fairlearn(replica_run, recomputed) -> None:  # type: ignore[no-untyped-def]
    _, _, result = replica_run
    document = json.loads((result.report_dir / "findings.json").read_text())
    replicas = document["replicas"]
    assert replicas["audited_seed"] == 3 and replicas["seeds"] == [4, 5, 6]
    assert [m["seed"] for m in replicas["models"]] == [4, 5, 6]
    rows = {row["path"]: row for row in replicas["rows"]}
    assert "privacy.mia.auc" in rows and len(rows["privacy.mia.auc"]["values"]) == 3
    for figure in recomputed[3]:
        values = [recomputed[seed][figure] for seed in (4, 5, 6)]
        row = rows[figure]
        assert row["audited"] == pytest.approx(recomputed[3][figure]), figure
        assert row["values"] == pytest.approx(values), figure
        assert (row["min"], row["median"], row["max"]) == pytest.approx(
            (min(values), float(np.median(values)), max(values))
        )
    assert len({recomputed[seed]["performance.roc_auc"] for seed in (3, 4, 5, 6)}) == 4  # four different models
    metrics = document["metrics"]
    assert rows["performance.roc_auc"]["audited"] == metrics["performance"]["roc_auc"]["value"]
    # The flag, recomputed: the point-estimate gate's verdict on each replica against the audited model's.
    auc = rows["performance.roc_auc"]
    threshold = ROC_AUC_GATE
    assert auc["gates"] == [f"performance.roc_auc >= {threshold:g}"]
    audited_passes = recomputed[3]["performance.roc_auc"] >= threshold
    assert auc["flipped_seeds"] == [
        seed for seed in (4, 5, 6) if (recomputed[seed]["performance.roc_auc"] >= threshold) != audited_passes
    ]


def test_spread_gates_pass_and_fail_and_every_output_shows_the_spread(replica_run, recomputed) -> None:  # type: ignore[no-untyped-def]
    _, _, result = replica_run
    assert result.exit_code == ExitCode.GATES_FAILED
    # What each gate reads, and so its verdict, from the models themselves: the lowest replica, the audited model.
    lowest = min(recomputed[seed]["performance.roc_auc"] for seed in (4, 5, 6))
    audited = recomputed[3]["performance.roc_auc"]
    assert [(g.gate.path, g.passed) for g in result.gate_results] == [
        ("performance.baselines.majority.balanced_accuracy.replica_min", True),
        ("performance.baselines.majority.balanced_accuracy.replica_max", False),
        ("performance.roc_auc.replica_min", lowest >= ROC_AUC_GATE),
        ("performance.roc_auc", audited >= ROC_AUC_GATE),
    ]
    assert [g.observed for g in result.gate_results] == pytest.approx([0.5, 0.5, lowest, audited])
    document = json.loads((result.report_dir / "findings.json").read_text())
    rows = {row["path"]: row for row in document["replicas"]["rows"]}
    assert result.gate_results[2].observed == rows["performance.roc_auc"]["min"]
    spread = document["replicas"]["metrics"]  # the gateable figures, under the paths the gates name
    assert spread["performance.roc_auc.replica_min"]["value"] == rows["performance.roc_auc"]["min"]
    assert spread["performance.roc_auc.replica_max"]["value"] == rows["performance.roc_auc"]["max"]
    assert [g["observed"] for g in document["gates"][:3]] == [0.5, 0.5, rows["performance.roc_auc"]["min"]]
    stages = {s["stage"] for s in document["provenance"]["stages"]}  # each replica's work is timed like the twin's
    assert {f"train or load: seed replica {seed}" for seed in (4, 5, 6)} <= stages
    assert {f"audit seed replica {seed}: {name}" for seed in (4, 5, 6) for name in document["metrics"]} <= stages
    # Every gated path gets its spread, not only the headline figures; gates on the spread flag nothing.
    majority = rows["performance.baselines.majority.balanced_accuracy"]
    assert majority["values"] == [0.5, 0.5, 0.5] and majority["gates"] == [] and majority["verdict"] == "not gated"
    html = (result.report_dir / "report.html").read_text()
    assert "Spread across training seeds" in html and "D&#39;Amour et al. 2020" in html
    assert "seeds 4, 5, 6" in html
    summary = (result.report_dir / "summary.md").read_text()
    assert "| `performance.roc_auc` |" in summary and "Across seeds (audited: seed 3; replicas: 4, 5, 6)" in summary
    properties = {
        p.get("name"): p.get("value") for p in ET.parse(result.report_dir / "junit.xml").getroot().iter("property")
    }
    assert properties["seed_replicas"] == "4,5,6"
