"""Report stage: findings tree, number formatting, and atomic writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmaudit.core.findings import Bar, BarChart, Findings, Metric, PluginFindings, finite, metric_key
from fmaudit.core.provenance import sha256_dir, sha256_json
from fmaudit.metrics.gates import evaluate, parse_gate
from fmaudit.report import charts, html, reading, write
from tests.support.synthetic_run import synthetic_document, write_synthetic_run


def test_findings_tree_nests_by_metric_path() -> None:
    findings = Findings(
        sections=(
            PluginFindings(
                plugin="fairness",
                title="Fairness",
                summary="",
                metrics=(Metric("fairness.sex.demographic_parity_ratio", 0.9, "r", "higher", ci_low=0.8, ci_high=1.0),),
            ),
        )
    )
    node = findings.to_tree()["fairness"]["sex"]["demographic_parity_ratio"]
    assert node == {"value": 0.9, "ci_low": 0.8, "ci_high": 1.0, "better": "higher", "label": "r"}


@pytest.mark.parametrize("part", ["value", "ci_low", "ci_high"])
@pytest.mark.parametrize("number", [float("inf"), -float("inf"), float("nan"), np.float64("nan")])
def test_metric_values_and_bounds_must_be_finite_or_none(part: str, number: float) -> None:
    """findings.json is strict JSON: NaN or infinity anywhere in a figure is refused where the figure is made."""
    figure = {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    with pytest.raises(ValueError, match=f"metric a.b: {part} must be finite or None; got"):
        Metric("a.b", label="x", **{**figure, part: number})


def test_an_undefined_figure_becomes_none_and_fails_its_gate_with_the_reason() -> None:
    """What a plugin computes as NaN (0/0, an empty group) is reported as not measured, never as a number."""
    with np.errstate(invalid="ignore"):
        rate = np.float64(0.0) / np.float64(0.0)
    assert np.isnan(rate) and finite(rate) is None and finite(float("inf")) is None and finite(0.25) == 0.25
    metric = Metric("fairness.sex.demographic_parity_ratio", finite(rate), "r", note="no group was selected")
    gates = [parse_gate(f"fairness.sex.demographic_parity_ratio {op} 0.8") for op in (">=", "<=", "<", ">", "==")]
    for result in evaluate(gates, {metric.path: metric}):
        assert (result.observed, result.passed, result.reason) == (None, False, "no group was selected"), result
    document = Findings((PluginFindings("fairness", "Fairness", "", (metric,)),)).to_tree()
    assert document["fairness"]["sex"]["demographic_parity_ratio"]["value"] is None


def test_metric_key_makes_group_names_path_safe() -> None:
    assert metric_key("female & under 25") == "female_under_25"
    assert metric_key("A/B (test)") == "A_B_test"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        (True, "yes"),
        (1500, "1,500"),
        (300.0, "300"),
        (1.0, "1.000"),
        (0.12345, "0.123"),
        (2e-05, "2e-05"),
    ],
)
def test_number_formatting(value: object, text: str) -> None:
    assert reading.format_number(value) == text


def test_a_failed_render_leaves_no_report_and_no_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> dict:  # type: ignore[type-arg]
        raise RuntimeError("template failed")

    monkeypatch.setattr(write, "render_format", broken)
    with pytest.raises(RuntimeError, match="template failed"):
        write_synthetic_run(tmp_path, write.OutputOptions(("html",)))
    assert list(tmp_path.iterdir()) == []


def test_template_ships_with_the_package() -> None:
    assert (html.template_dir() / html.TEMPLATE).is_file()


def test_hashes_are_content_hashes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "w.bin").write_bytes(b"weights")
    first = sha256_dir(tmp_path / "a")
    (tmp_path / "a" / "w.bin").write_bytes(b"weights2")
    assert sha256_dir(tmp_path / "a") != first
    assert sha256_json({"b": 1, "a": 2}) == sha256_json({"a": 2, "b": 1})


def test_line_chart_geometry_puts_log_axes_in_the_plot_and_clamps_zero_to_the_floor() -> None:
    from dataclasses import asdict

    from fmaudit.core.findings import LineChart

    chart = LineChart(
        title="ROC",
        x_label="FPR",
        y_label="TPR",
        series=(("attack", (0.0, 0.01, 1.0), (0.0, 0.2, 1.0)),),
        log_x=True,
        x_min=0.001,
        x_max=1.0,
        y_min=0.0,
        y_max=1.0,
        diagonal=True,
    )
    geometry = charts.line_chart_geometry(asdict(chart))
    left, right = geometry["left"], geometry["plot_right"]
    points = [tuple(map(float, p.split(","))) for p in geometry["lines"][0]["points"].split()]
    assert points[0] == (left, geometry["plot_bottom"])  # FPR 0 drawn at the axis floor, not dropped
    assert points[1][0] == pytest.approx(left + (right - left) / 3)  # 0.01 is one third of 1e-3..1 in log
    assert points[2] == (right, geometry["top"])
    assert [label for _, label in geometry["x_axis"]] == ["0.001", "0.01", "0.1", "1"]
    assert not geometry["lines"][0]["dashed"]
    assert geometry["diagonal"]


def test_the_data_file_is_shown_resolved_and_relative_to_the_spec_beside_it(tmp_path: Path) -> None:
    from fmaudit.report.document import shown_path

    spec = tmp_path / "audits" / "credit.yaml"
    (tmp_path / "audits" / "data").mkdir(parents=True)
    assert shown_path(tmp_path / "audits" / "x" / ".." / "data" / "loans.csv", spec_path=spec) == "data/loans.csv"
    assert shown_path(tmp_path / "audits" / "loans.csv", spec_path=spec) == "loans.csv"
    elsewhere = shown_path(tmp_path / "audits" / ".." / "shared" / "loans.csv", spec_path=spec)
    assert elsewhere == str((tmp_path / "shared" / "loans.csv").resolve()) and ".." not in elsewhere


def bar_geometry(*bars: Bar, reference: float | None = None) -> dict:  # type: ignore[type-arg]
    from dataclasses import asdict

    return charts.bar_chart_geometry(asdict(BarChart(title="t", bars=bars, reference=reference)))


def test_bar_chart_maps_values_and_intervals_linearly_from_the_zero_line() -> None:
    geometry = bar_geometry(Bar("a", 0.5, ci_low=0.25, ci_high=1.0), Bar("b", 1.0))
    left, right = geometry["plot_left"], geometry["plot_right"]
    a, b = geometry["rows"]
    assert a["rect"]["x"] == left and b["rect"]["x"] == left  # all positive: bars grow from the left edge
    assert b["rect"]["width"] == pytest.approx(right - left)  # the largest value spans the plot
    assert a["rect"]["width"] == pytest.approx((right - left) / 2, abs=0.1)
    assert (a["whisker"]["x1"], a["whisker"]["x2"]) == (pytest.approx(left + (right - left) / 4, abs=0.1), right)
    assert b["whisker"] is None and geometry["zero_x"] is None and geometry["reference_x"] is None
    assert geometry["height"] == 2 * charts.BAR["row_h"] + 10


def test_bar_chart_negative_values_grow_left_of_a_drawn_zero_line() -> None:
    geometry = bar_geometry(Bar("gain", 0.3), Bar("loss", -0.1, ci_low=-0.2, ci_high=0.05))
    left, right = geometry["plot_left"], geometry["plot_right"]
    zero = geometry["zero_x"]
    assert zero == pytest.approx(left + (right - left) * 0.2 / 0.5, abs=0.1)  # axis spans -0.2 .. 0.3
    gain, loss = geometry["rows"]
    assert gain["rect"]["x"] == zero and loss["rect"]["x"] + loss["rect"]["width"] == pytest.approx(zero)
    assert loss["whisker"]["x1"] == left


def test_bar_chart_value_labels_start_right_of_every_bar_whisker_and_reference() -> None:
    geometry = bar_geometry(
        Bar("wide interval", 0.4, ci_low=0.1, ci_high=1.0), Bar("small", 0.05, "excluded"), reference=1.2
    )
    drawn = [geometry["reference_x"]]
    for row in geometry["rows"]:
        drawn.append(row["rect"]["x"] + row["rect"]["width"])
        drawn += [row["whisker"]["x2"]] if row["whisker"] else []
    assert geometry["value_x"] > max(drawn) and geometry["reference_x"] == geometry["plot_right"]
    assert [row["fill"] for row in geometry["rows"]] == [charts.BAR_FILL[""], charts.BAR_FILL["excluded"]]


def test_chart_colours_are_inside_the_svg_so_pdf_engines_draw_them() -> None:
    from fmaudit.report.document import SCHEMA_VERSION

    assert SCHEMA_VERSION == 2
    page = html.render_html(synthetic_document())
    bars = page[page.index('aria-label="Selection rate by sex"') :]
    bars = bars[: bars.index("</svg>")]
    assert f'fill="{charts.BAR_FILL[""]}"' in bars and f'fill="{charts.BAR_FILL["excluded"]}"' in bars
    assert f'stroke="{charts.FAIL}"' in bars and f'stroke="{charts.INK}"' in bars  # reference line, whiskers


def test_the_header_names_the_model_by_its_hash_and_keeps_paths_and_separators_where_they_belong() -> None:
    document = synthetic_document()
    document["training"].update(base_model_dir="/home/someone/models/minilm", base_model_sha256="ab" * 32)
    page = html.render_html(document)
    subtitle = page[page.index('<p class="sub">') :]
    subtitle = subtitle[: subtitle.index("</p>")]
    assert subtitle.startswith(f'<p class="sub">{document["description"]} · run ')
    document["description"] = ""
    bare = html.render_html(document)
    assert f'<p class="sub">run {document["provenance"]["run_id"]}' in bare  # no stray leading separator
    model = page[page.index("<dt>Base model</dt>") :]
    model = model[: model.index("</dd>")]
    assert document["training"]["base_model_sha256"][:16] in model
    assert document["training"]["base_model_dir"] not in model  # a path of the machine that ran it: provenance
    assert f"<dt>Base model files</dt><dd>{document['training']['base_model_dir']}<br>" in page
