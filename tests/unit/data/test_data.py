"""Data stage: loading, group derivation, serialisation spans, split, and the errors for bad data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmaudit.core.errors import DataError
from fmaudit.data import UNKNOWN_GROUP, PreparedData, derive_group, prepare, serialise, template_fields
from fmaudit.engine.planning import plan
from fmaudit.spec import DataSpec, SensitiveSpec


def data_spec(spec_dict, **changes) -> DataSpec:  # type: ignore[no-untyped-def]
    return DataSpec.model_validate({**spec_dict["data"], **changes})


def test_german_credit_prepares_with_groups_texts_and_stratified_split(spec_dict, tmp_path) -> None:
    data = prepare(data_spec(spec_dict), base_dir=tmp_path)
    assert data.n_rows == 1000
    assert data.labels.sum() == 700  # 700 good / 300 bad
    assert len(data.test_idx) == 300 and not set(data.train_idx) & set(data.test_idx)
    assert data.labels[data.test_idx].mean() == pytest.approx(0.7)
    assert data.group_sizes()["sex"] == {"female": 310, "male": 690}
    assert data.group_sizes()["foreign_worker"] == {"no": 37, "yes": 963}
    assert set(data.sensitive["sex_x_age_group"]) == {
        "female & under 25",
        "female & 25 and over",
        "male & under 25",
        "male & 25 and over",
    }
    assert data.texts[0].startswith("checking: ... < 0 DM; duration: 6 months; history: critical account")
    # Sensitive source columns and the label are not baseline features.
    assert "personal_status_and_sex" not in data.feature_columns and "creditability" not in data.feature_columns


def test_split_is_deterministic_under_its_seed(spec_dict, tmp_path) -> None:
    first = prepare(data_spec(spec_dict), base_dir=tmp_path)
    again = prepare(data_spec(spec_dict), base_dir=tmp_path)
    assert np.array_equal(first.test_idx, again.test_idx)


def test_serialise_records_the_span_of_each_field() -> None:
    out = serialise({"a": "x y", "n": 3.14159}, "A is {a}; n = {n:.2f}.")
    assert out.text == "A is x y; n = 3.14."
    assert out.text[slice(*out.spans["a"])] == "x y"
    assert out.text[slice(*out.spans["n"])] == "3.14"


def test_template_fields_in_order() -> None:
    assert template_fields("{b} and {a} then {b}") == ["b", "a"]
    with pytest.raises(DataError, match="must name a column"):
        template_fields("{0} positional")


def test_missing_values_form_an_unknown_group_and_unmapped_values_are_errors() -> None:
    series = pd.Series(["f", None, "m", "f"])
    groups = derive_group(series, SensitiveSpec(column="s", map={"f": "female", "m": "male"}), name="sex")
    assert groups.tolist() == ["female", UNKNOWN_GROUP, "male", "female"]
    with pytest.raises(DataError, match=r"data.sensitive.sex.map: values of column 's' have no group: \['x'\]"):
        derive_group(pd.Series(["f", "x"]), SensitiveSpec(column="s", map={"f": "female"}), name="sex")


def test_bins_are_left_closed_and_out_of_range_is_an_error() -> None:
    spec = SensitiveSpec(column="age", bins=[0, 25, 100], labels=["young", "older"])
    assert derive_group(pd.Series([24, 25, None]), spec, name="age").tolist() == ["young", "older", UNKNOWN_GROUP]
    with pytest.raises(DataError, match=r"fall outside \[0.0, 100.0\)"):
        derive_group(pd.Series([150]), spec, name="age")


def test_missing_column_is_named_with_suggestion(spec_dict, tmp_path) -> None:
    spec = data_spec(spec_dict, label="credibility")
    with pytest.raises(DataError) as caught:
        prepare(spec, base_dir=tmp_path)
    assert str(caught.value) == (
        "data.label: column 'credibility' not found in germancredit.csv (did you mean 'creditability'?)"
    )


def test_missing_template_column_is_named(spec_dict, tmp_path) -> None:
    spec = data_spec(spec_dict, template="income: {income}")
    with pytest.raises(DataError, match=r"data\.template: column 'income' not found"):
        prepare(spec, base_dir=tmp_path)


def test_label_with_one_class_is_an_error(spec_dict, tmp_path) -> None:
    frame = pd.DataFrame({"y": ["good"] * 5, "sex": ["f", "m", "f", "m", "f"], "x": range(5)})
    frame.to_csv(tmp_path / "one.csv", index=False)
    spec = data_spec(
        spec_dict, source="one.csv", label="y", sensitive={"sex": {"column": "sex"}}, intersections=[], template="{x}"
    )
    with pytest.raises(DataError, match="has one class only"):
        prepare(spec, base_dir=tmp_path)


def test_a_label_with_three_classes_lists_them_and_says_how_to_map_them(spec_dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"y": ["good", "bad", "review"] * 4, "sex": ["f", "m"] * 6, "x": range(12)})
    frame.to_csv(tmp_path / "three.csv", index=False)

    def three(**changes: object) -> PreparedData:
        spec = data_spec(
            spec_dict,
            source="three.csv",
            label="y",
            sensitive={"sex": {"column": "sex"}},
            intersections=[],
            template="{x}",
            **changes,
        )
        return prepare(spec, base_dir=tmp_path)

    with pytest.raises(
        DataError,
        match=r"has 3 classes \('bad', 'good', 'review'\); .* list the values that count "
        r"as favourable in data.positive \(e.g. positive: \['bad', 'good'\]\)",
    ):
        three()
    # A list of favourable values maps the three classes to the binary decision: these against the rest.
    mapped = three(positive=["good", "review"])
    assert mapped.labels.tolist() == [int(y != "bad") for y in frame["y"]]
    with pytest.raises(DataError, match=r"data.positive: 'great' is not a value of column 'y'"):
        three(positive=["good", "great"])
    with pytest.raises(DataError, match="every value of column 'y' is listed as favourable"):
        three(positive=["good", "bad", "review"])


def test_a_data_problem_found_while_planning_names_the_spec_file(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["data"]["template"] = "income: {income}"
    path = write_spec(spec_dict)
    with pytest.raises(DataError) as caught:
        plan(path)
    assert str(caught.value).startswith(f"{path}: data.template: column 'income' not found")


def test_positive_value_must_occur(spec_dict, tmp_path) -> None:
    with pytest.raises(DataError, match=r"data.positive: 'approved' is not a value of column 'creditability'"):
        prepare(data_spec(spec_dict, positive="approved"), base_dir=tmp_path)


def test_missing_file_and_unknown_builtin(spec_dict, tmp_path) -> None:
    with pytest.raises(DataError, match=r"data\.source: file not found: .*nowhere\.csv"):
        prepare(data_spec(spec_dict, source="nowhere.csv"), base_dir=tmp_path)
    with pytest.raises(DataError, match="unknown built-in data set 'adult'"):
        prepare(data_spec(spec_dict, source="builtin:adult"), base_dir=tmp_path)


def test_user_parquet_file_relative_to_the_spec(spec_dict, tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"approved": rng.integers(0, 2, 60), "gender": rng.choice(["f", "m", None], 60), "income": rng.normal(size=60)}
    )
    frame.to_parquet(tmp_path / "loans.parquet")
    spec = data_spec(
        spec_dict,
        source="loans.parquet",
        label="approved",
        positive=1,
        sensitive={"gender": {"column": "gender"}},
        intersections=[],
        template="income {income:.1f}",
        max_rows=50,
    )
    data = prepare(spec, base_dir=tmp_path)
    assert data.n_rows == 50
    assert UNKNOWN_GROUP in set(data.sensitive["gender"])
    assert data.texts[0].startswith("income ")


@pytest.mark.parametrize(("rows", "test_size"), [(1000, 0.3), (301, 0.25), (77, 0.1)])
def test_training_count_is_known_before_splitting(spec_dict, tmp_path, rows, test_size) -> None:  # type: ignore[no-untyped-def]
    spec = data_spec(spec_dict, max_rows=rows, split={"test_size": test_size, "seed": 2})
    data = prepare(spec, base_dir=tmp_path)
    assert data.n_train == len(data.train_idx)
    assert len(data.train_idx) + len(data.test_idx) == rows


def test_a_relative_source_is_resolved_without_dot_dot(spec_dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fmaudit.data import resolve_source

    (tmp_path / "data").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "data" / "loans.csv").write_text("a\n1\n")
    path = resolve_source("../data/loans.csv", base_dir=tmp_path / "specs")
    assert path == (tmp_path / "data" / "loans.csv").resolve() and ".." not in path.parts


def test_groups_whose_metric_paths_collide_are_refused_with_both_names(spec_dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"y": ["good", "bad"] * 6, "region": ["A/B", "A B", "C"] * 4, "x": range(12)})
    frame.to_csv(tmp_path / "regions.csv", index=False)
    spec = data_spec(
        spec_dict,
        source="regions.csv",
        label="y",
        sensitive={"region": {"column": "region"}},
        intersections=[],
        template="{x}",
    )
    with pytest.raises(
        DataError,
        match=r"data.sensitive.region: groups 'A B' and 'A/B' .* share the metric path "
        r"part 'A_B'; rename one with data.sensitive.region.map",
    ):
        prepare(spec, base_dir=tmp_path)
    frame["region"] = ["A/B", "A-B", "C"] * 4  # distinct paths: A_B and A-B
    frame.to_csv(tmp_path / "regions.csv", index=False)
    assert set(prepare(spec, base_dir=tmp_path).sensitive["region"]) == {"A/B", "A-B", "C"}
