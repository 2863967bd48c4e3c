"""Serialisation a field at a time, block by block and on first read: the same texts and spans as ``serialise``
row by row (the oracle), the same groups and labels as before, and nothing serialised by a plan."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fmaudit.core.errors import DataError
from fmaudit.data import INTERSECTION_JOIN, PreparedData, intersection_name, prepare, serialise
from fmaudit.data import serialisation as serialisation_module
from fmaudit.data.serialisation import LazySerialisation, check_template, serialise_rows
from fmaudit.engine.planning import plan
from fmaudit.spec import DataSpec
from tests.support.specs import WIDE_TEMPLATE


def row_by_row(frame: pd.DataFrame, template: str) -> tuple[list[str], list[dict[str, tuple[int, int]]]]:
    """The oracle: each row through ``serialise``, from ``to_dict("records")`` as prepare() used to do."""
    rendered = [serialise(row, template) for row in frame.to_dict("records")]
    return [r.text for r in rendered], [r.spans for r in rendered]


def assert_same_content(data: PreparedData, spec: DataSpec) -> None:
    """Texts, spans, groups with their intersections, and labels, as the row-by-row preparation gave them."""
    texts, spans = row_by_row(data.frame, spec.template)
    assert list(data.texts) == texts
    assert list(data.spans) == spans
    for combo in spec.intersections:
        joined = data.sensitive[combo].agg(INTERSECTION_JOIN.join, axis=1)
        assert data.sensitive[intersection_name(combo)].tolist() == joined.tolist()
    expected = data.frame[spec.label].astype(str).isin(spec.favourable_values).to_numpy(dtype=np.int64)
    assert np.array_equal(data.labels, expected)


@pytest.mark.parametrize(
    "template",
    [
        WIDE_TEMPLATE,
        "{purpose!r} for {credit_amount:,} DM over {duration_in_month:>3} months, {credit_amount:.1f}; "
        "age {age_in_years!s:<4}| {purpose}",
    ],
    ids=["wide", "specs-and-conversions"],
)
def test_german_credit_prepares_as_it_did_row_by_row(spec_dict, tmp_path, template) -> None:  # type: ignore[no-untyped-def]
    spec = DataSpec.model_validate({**spec_dict["data"], "template": template})
    assert_same_content(prepare(spec, base_dir=tmp_path), spec)


def loans(rows: int, seed: int = 0) -> pd.DataFrame:
    """Applications with gaps: text and numbers with missing values, a flag, amounts with cents."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "approved": rng.choice(["yes", "no"], rows),
            "gender": rng.choice(["f", "m", None], rows, p=[0.45, 0.45, 0.1]),
            "age": rng.integers(18, 80, rows),
            "amount": np.round(rng.lognormal(8, 1, rows), 2),
            "purpose": rng.choice(["car", "home 'n' garden", "tuition", None], rows),
            "term": rng.choice([12.0, 24.0, np.nan], rows),
            "insured": rng.choice([True, False, None], rows),
        }
    )
    frame.loc[rng.random(rows) < 0.1, "amount"] = np.nan
    return frame


def test_a_table_with_gaps_and_format_specs_prepares_as_it_did_row_by_row(spec_dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    loans(400).to_csv(tmp_path / "loans.csv", index=False)
    spec = DataSpec.model_validate(
        {
            **spec_dict["data"],
            "source": "loans.csv",
            "label": "approved",
            "positive": "yes",
            "sensitive": {
                "gender": {"column": "gender", "map": {"f": "female", "m": "male"}},
                "age_group": {"column": "age", "bins": [0, 30, 200], "labels": ["under 30", "30 and over"]},
            },
            "intersections": [["gender", "age_group"]],
            "template": "amount {amount:.1f} ({amount}) for {purpose!r}, term {term:>6} months, age {age:03d}; "
            "insured: {insured}, {insured!r}; gender {gender!s}",
        }
    )
    data = prepare(spec, base_dir=tmp_path)
    assert "amount nan (nan) for nan" in " ".join(data.texts)  # missing values are written as serialise writes them
    assert_same_content(data, spec)


def test_values_that_hash_alike_but_print_apart_are_written_apart() -> None:
    """Whatever the dtype: 0.0 and -0.0, 1 and 1.0 and True in one object column, None and NaN, pandas' NA."""
    rows = 60
    mixed: list[Any] = [1, 1.0, True, "1", None, np.nan]
    frame = pd.DataFrame(
        {
            "text": pd.Series(["a", None, "b c"] * 20, dtype="str"),
            "objects": pd.Series(["x", None, np.nan] * 20, dtype=object),
            "mixed": pd.Series(mixed * 10, dtype=object),
            "floats": [0.0, -0.0, 1.25, np.nan, 1e16, 3.14159] * 10,
            "singles": np.array([0.1, -0.0, 2.5] * 20, dtype=np.float32),
            "ints": np.arange(rows) - 30,
            "flags": [True, False] * 30,
            "category": pd.Categorical(["p", "q", None] * 20),
            "nullable": pd.array([1, 2, None] * 20, dtype="Int64"),
            "nullable_floats": pd.array([0.0, -0.0, None] * 20, dtype="Float64"),
            "when": pd.to_datetime(["2020-01-01", None, "2021-06-30"] * 20),
        }
    )
    template = (
        "{text}|{text!r}|{objects!r:>6}|{mixed}/{mixed!r}|{floats:.1f}/{floats}/{floats!r}|{singles}|{ints:+d}|"
        "{flags}|{category}|{nullable}|{nullable_floats}|{when}|{text!s:_<5}."
    )
    texts, spans = row_by_row(frame, template)
    rendered = serialise_rows(frame, template)
    assert rendered.texts == texts and list(rendered.spans) == spans
    assert rendered.texts[1].startswith("nan|nan|  None|1.0/1.0|-0.0/-0.0/-0.0|")


def test_rows_are_serialised_a_block_at_a_time_when_first_read(spec_dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = DataSpec.model_validate({**spec_dict["data"], "template": WIDE_TEMPLATE})
    frame = prepare(spec, base_dir=tmp_path).frame
    texts, spans = row_by_row(frame, WIDE_TEMPLATE)
    lazy = LazySerialisation(frame, WIDE_TEMPLATE, block_rows=64)
    assert lazy.rows_serialised == 0
    assert lazy.texts[130] == texts[130] and lazy.rows_serialised == 64  # rows 128-191: one block
    assert lazy.spans[-1] == spans[-1] and lazy.texts[-1] == texts[-1] and lazy.rows_serialised == 64 + 40
    assert lazy.texts[60:70] == texts[60:70] and lazy.spans[::250] == spans[::250]
    assert len(lazy.texts) == len(lazy.spans) == 1000
    assert list(lazy.texts) == texts and list(lazy.spans) == spans and lazy.rows_serialised == 1000
    with pytest.raises(IndexError, match="row 1000 is not a row of this table of 1000"):
        lazy.texts[1000]


def test_a_plan_serialises_nothing_for_a_tabular_model_nor_for_a_text_model(  # type: ignore[no-untyped-def]
    spec_dict, write_spec, monkeypatch
) -> None:
    calls: list[int] = []
    real = serialisation_module.serialise_rows

    def counted(frame: pd.DataFrame, template: str) -> serialisation_module.SerialisedRows:
        calls.append(len(frame))
        return real(frame, template)

    monkeypatch.setattr(serialisation_module, "serialise_rows", counted)
    text_plan = plan(write_spec(spec_dict, "text.yaml"))
    tabular = {**spec_dict, "model": {"kind": "tabular"}, "training": {"epochs": 1, "batch_size": 32}}
    tabular_plan = plan(write_spec(tabular, "tabular.yaml"))
    assert calls == []
    assert text_plan.data.serialisation.rows_serialised == tabular_plan.data.serialisation.rows_serialised == 0
    assert text_plan.data.texts[5] == row_by_row(text_plan.data.frame.iloc[[5]], spec_dict["data"]["template"])[0][0]
    assert calls == [1000]  # the first text read serialises its block, here the whole table


def test_a_copy_with_a_fixed_split_serialises_the_same_texts(spec_dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = prepare(DataSpec.model_validate(spec_dict["data"]), base_dir=tmp_path)
    before = list(data.texts)
    fixed = dataclasses.replace(data, trained_rows=np.arange(700))
    assert list(fixed.texts) == before and list(fixed.spans) == list(data.spans)


def test_a_format_spec_that_does_not_fit_its_column_fails_before_any_text_is_needed(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["data"]["template"] = "purpose: {purpose:.1f}; age: {age_in_years!r:>4}; amount {credit_amount:s}"
    path = write_spec(spec_dict)
    with pytest.raises(DataError) as caught:
        plan(path)
    assert str(caught.value) == (
        f"{path}: data.template: {{purpose:.1f}} cannot write a value of column 'purpose', 'radio/television' (str): "
        "Unknown format code 'f' for object of type 'str'\n"
        f"{path}: data.template: {{credit_amount:s}} cannot write a value of column 'credit_amount', 1169 (int): "
        "Unknown format code 's' for object of type 'int'"
    )


def test_a_value_the_template_cannot_write_is_a_data_error_naming_it() -> None:
    frame = pd.DataFrame({"n": [65, 10**7]})
    check_template(frame, "{n:c}")  # the first value of the column's one type fits
    with pytest.raises(
        DataError, match=r"^data.template: \{n:c\} cannot write a value of column 'n', 10000000 \(int\): "
    ):
        serialise_rows(frame, "{n:c}")
    mixed = pd.DataFrame({"n": pd.Series([1.5, "many"], dtype=object)})
    with pytest.raises(DataError, match=r"\{n:.1f\} cannot write a value of column 'n', 'many' \(str\)"):
        check_template(mixed, "{n:.1f}")  # every type an object column holds is tried
