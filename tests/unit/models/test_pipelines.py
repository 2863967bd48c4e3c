"""Tabular models trained elsewhere: a scikit-learn pipeline saved with skops and exported with skl2onnx scores as
the estimator itself does, favourable classes are the data's, unsafe files and mismatched columns are refused
naming the file, and the skops file and its ONNX twin give the same audit figures."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import validate_data

from fmaudit.core.errors import ExitCode, ModelError
from fmaudit.data import PreparedData, template_fields
from fmaudit.models.pipelines import PipelineClassifier, load_onnx, load_skops
from fmaudit.spec import Spec
from tests.support.pipelines import LABEL, column_types, credit_pipeline, save_onnx, save_skops
from tests.support.specs import WIDE_TEMPLATE

FIELDS = template_fields(WIDE_TEMPLATE)
NUMERIC = ["duration_in_month", "credit_amount", "age_in_years"]
LABELS = ["bad", "good"]


class Doubler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A transformer skops has never heard of: loading it means running this module's code."""

    def fit(self, X: object, y: object = None) -> Doubler:
        validate_data(self, X)  # keeps the column names, as scikit-learn's own transformers do
        return self

    def transform(self, X: object) -> np.ndarray:
        return np.asarray(validate_data(self, X, reset=False), dtype=np.float64) * 2


def skops_model(data: PreparedData, tmp_path: Path, **changes: object) -> PipelineClassifier:
    path = save_skops(credit_pipeline(data, FIELDS), tmp_path / "credit.skops")
    return load_skops(path, **{"columns": FIELDS, "favourable": ["good"], "labels": LABELS, **changes})  # type: ignore[arg-type]


def test_a_skops_pipeline_scores_its_own_probability_of_the_favourable_class(
    wide_data: PreparedData, tmp_path: Path
) -> None:
    estimator = credit_pipeline(wide_data, list(reversed(FIELDS)))  # its own column order, not the template's
    path = save_skops(estimator, tmp_path / "credit.skops")
    model = load_skops(path, columns=FIELDS, favourable=["good"], labels=LABELS)
    rows = wide_data.test_idx
    expected = estimator.predict_proba(wide_data.frame.iloc[rows][list(reversed(FIELDS))])[:, 1]

    assert model.kind == "tabular" and model.format == "skops"
    assert model.columns == tuple(reversed(FIELDS))  # fed by name, in the model's order
    assert model.classes == ("bad", "good") and model.favourable == ("good",)
    assert np.array_equal(model.predict_rows(wide_data, rows), expected)
    records = wide_data.frame.iloc[rows].to_dict("records")  # whole rows: label and every other column too
    assert np.array_equal(model.predict_records(records, template=""), expected)
    assert model.weight_files == (path,) and model.description == "Pipeline (skops file credit.skops)"
    saved = tmp_path / "kept"
    saved.mkdir()
    model.save(saved)
    assert (saved / "credit.skops").read_bytes() == path.read_bytes()


def test_probability_of_favourable_is_the_sum_over_the_favourable_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=90), "z": rng.normal(size=90)})
    three = np.array(["a", "b", "c"])[rng.integers(0, 3, 90)]
    estimator = LogisticRegression().fit(frame, three)
    path = save_skops(estimator, tmp_path / "three.skops")
    model = load_skops(path, columns=["x", "z"], favourable=["c", "a"], labels=["a", "b", "c"])
    probabilities = estimator.predict_proba(frame)
    assert model.favourable == ("a", "c")
    assert np.allclose(model.predict_frame(frame), probabilities[:, 0] + probabilities[:, 2], atol=1e-15)

    numbers = save_skops(LogisticRegression().fit(frame, (frame.x > 0).astype(int)), tmp_path / "numbers.skops")
    assert load_skops(numbers, columns=["x", "z"], favourable=["1"], labels=["0", "1"]).favourable == ("1",)


@pytest.mark.parametrize(
    ("favourable", "labels", "message"),
    [
        (["good"], ["bad", "good"], "the model's classes ('a', 'b', 'c') are not the data's label values"),
        (["good"], [], "none of the model's classes ('a', 'b', 'c') is a favourable value of data.positive ('good')"),
        (["a", "b", "c"], [], "every class of the model ('a', 'b', 'c') is favourable"),
    ],
)
def test_classes_that_are_not_the_datas_labels_are_refused_naming_them(
    favourable: list[str], labels: list[str], message: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=60)})
    path = save_skops(LogisticRegression().fit(frame, np.repeat(["a", "b", "c"], 20)), tmp_path / "three.skops")
    with pytest.raises(ModelError, match=re.escape(f"{path}: {message}")) as caught:
        load_skops(path, columns=["x"], favourable=favourable, labels=labels)
    assert caught.value.exit_code == ExitCode.INPUT_ERROR


def test_a_type_skops_does_not_trust_is_refused_by_name_until_the_spec_trusts_it(
    wide_data: PreparedData, tmp_path: Path
) -> None:
    frame = wide_data.frame.iloc[wide_data.train_idx]
    estimator = Pipeline([("double", Doubler()), ("classify", LogisticRegression())]).fit(frame[NUMERIC], frame[LABEL])
    path = save_skops(estimator, tmp_path / "custom.skops")
    name = f"{__name__}.Doubler"
    with pytest.raises(ModelError) as caught:
        load_skops(path, columns=FIELDS, favourable=["good"])
    assert str(caught.value) == (
        f"{path}: skops does not trust 1 type(s) the file names: {name}. Loading a type runs its code, so skops loads "
        "only the types it knows are safe, and fmaudit never falls back to pickle or joblib. If the file comes from "
        f"a source you trust, list them under model.source.trusted: [{name!r}]"
    )
    model = load_skops(path, columns=FIELDS, favourable=["good"], trusted=[name])
    assert model.columns == tuple(NUMERIC)
    assert np.array_equal(model.predict_frame(frame), estimator.predict_proba(frame[NUMERIC])[:, 1])


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_pickle_and_joblib_files_are_never_opened(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"model{suffix}"  # not even written: the name alone is refused
    with pytest.raises(ModelError) as caught:
        load_skops(path, columns=["x"], favourable=["good"])
    assert str(caught.value) == (
        f"{path}: fmaudit never loads pickle or joblib files: unpickling runs whatever code the file names, before "
        f"anything can check it. Convert the model once, where you trust the file: skops.io.dump(joblib.load("
        f"'model{suffix}'), 'model.skops'), and give the .skops file"
    )


def test_a_skops_model_reading_a_column_the_template_lacks_is_refused(wide_data: PreparedData, tmp_path: Path) -> None:
    path = save_skops(credit_pipeline(wide_data, [*FIELDS, "job"]), tmp_path / "more.skops")
    with pytest.raises(ModelError) as caught:
        load_skops(path, columns=FIELDS, favourable=["good"])
    assert str(caught.value) == (
        f"{path}: the model reads columns that are not fields of the data's template: ['job']; the template's fields: "
        f"{FIELDS}"
    )
    (tmp_path / "not.skops").write_text("no zip here")
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path / 'not.skops'}: not a skops file")):
        load_skops(tmp_path / "not.skops", columns=FIELDS, favourable=["good"])


@pytest.mark.parametrize("zipmap", [True, False])
def test_an_onnx_pipeline_with_one_input_per_column_scores_as_scikit_learn_does(
    zipmap: bool, wide_data: PreparedData, tmp_path: Path
) -> None:
    estimator = credit_pipeline(wide_data, FIELDS)
    types = column_types(wide_data.frame, FIELDS)
    path = save_onnx(estimator, tmp_path / "credit.onnx", initial_types=types, zipmap=zipmap)
    model = load_onnx(path, columns=FIELDS, favourable=["good"], labels=LABELS)
    rows = wide_data.test_idx
    expected = estimator.predict_proba(wide_data.frame.iloc[rows][FIELDS])[:, 1]
    assert model.format == "onnx" and model.columns == tuple(FIELDS)
    assert model.classes == ("bad", "good") and model.favourable == ("good",)
    assert np.abs(model.predict_rows(wide_data, rows) - expected).max() < 1e-6  # float32 inside the graph


def test_an_onnx_model_on_one_numeric_tensor_reads_the_fields_in_template_order(
    wide_data: PreparedData, tmp_path: Path
) -> None:
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    frame = wide_data.frame.iloc[wide_data.train_idx]
    for estimator in (LogisticRegression(max_iter=500), MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, tol=1.0)):
        estimator.fit(frame[NUMERIC].to_numpy(np.float32), frame[LABEL])  # MLP: classes only in a graph constant
        path = save_onnx(estimator, tmp_path / "numbers.onnx", initial_types=[("X", FloatTensorType([None, 3]))])
        model = load_onnx(path, columns=NUMERIC, favourable=["good"], labels=LABELS)
        expected = estimator.predict_proba(wide_data.frame[NUMERIC].to_numpy(np.float32))[:, 1]
        assert model.columns == tuple(NUMERIC) and model.classes == ("bad", "good")
        assert np.abs(model.predict_frame(wide_data.frame) - expected).max() < 1e-6

    with pytest.raises(ModelError, match=re.escape(f"{path}: input 'X[purpose]' takes numbers (tensor(float))")):
        load_onnx(path, columns=["purpose", *NUMERIC[1:]], favourable=["good"]).check(wide_data.frame)
    with pytest.raises(ModelError, match=re.escape(f"{path}: the model's one input 'X' is a tensor of 3 columns")):
        load_onnx(path, columns=FIELDS, favourable=["good"])


def test_onnx_inputs_that_are_not_the_datas_columns_are_named_with_the_file(
    wide_data: PreparedData, tmp_path: Path
) -> None:
    renamed = wide_data.frame.rename(columns={"age_in_years": "age"})
    fields = ["age" if f == "age_in_years" else f for f in FIELDS]
    data = dataclasses.replace(wide_data, frame=renamed)
    estimator = credit_pipeline(data, fields)
    path = save_onnx(estimator, tmp_path / "renamed.onnx", initial_types=column_types(renamed, fields))
    with pytest.raises(ModelError) as caught:
        load_onnx(path, columns=FIELDS, favourable=["good"])
    assert str(caught.value) == (
        f"{path}: the model's inputs do not match the data's columns: inputs ['age'] are not fields of the data's "
        "template; fields the model has no input for: ['age_in_years']. Export it with one input per column, named "
        "after it (skl2onnx: initial_types), or with one float tensor of every field in template order"
    )
    (tmp_path / "not.onnx").write_text("no graph here")
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path / 'not.onnx'}: not an ONNX model")):
        load_onnx(tmp_path / "not.onnx", columns=FIELDS, favourable=["good"])
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path / 'gone.onnx'}: model file not found")):
        load_onnx(tmp_path / "gone.onnx", columns=FIELDS, favourable=["good"])


def test_the_skops_file_and_its_onnx_twin_give_the_same_performance_and_fairness_figures(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    from fmaudit.families.fairness.plugin import FairnessParams, FairnessPlugin
    from fmaudit.families.performance.plugin import PerformanceParams, PerformancePlugin
    from tests.support.explanations import context_for

    estimator = credit_pipeline(wide_data, FIELDS)
    skops_file = save_skops(estimator, tmp_path / "credit.skops")
    onnx_file = save_onnx(estimator, tmp_path / "credit.onnx", initial_types=column_types(wide_data.frame, FIELDS))
    twins = [
        load_skops(skops_file, columns=FIELDS, favourable=["good"], labels=LABELS),
        load_onnx(onnx_file, columns=FIELDS, favourable=["good"], labels=LABELS),
    ]
    contexts = [context_for(wide_spec, wide_data, model, tmp_path) for model in twins]
    assert np.abs(contexts[0].predictions.scores - contexts[1].predictions.scores).max() < 1e-6

    for plugin, params in (
        (PerformancePlugin(), PerformanceParams(n_boot=30)),
        (FairnessPlugin(), FairnessParams(n_boot=30, min_group_size=5, counterfactual_rows=20)),
    ):
        figures = [{m.path: m.value for m in plugin.run(c, params).metrics} for c in contexts]  # type: ignore[arg-type]
        assert figures[0].keys() == figures[1].keys() and len(figures[0]) > 10
        for path, value in figures[0].items():
            assert figures[1][path] == pytest.approx(value, abs=1e-6), path


def test_without_class_labels_in_the_graph_the_metadata_names_them_or_the_model_is_refused(
    wide_data: PreparedData, tmp_path: Path
) -> None:
    import json

    import onnx
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier

    frame = wide_data.frame.iloc[wide_data.train_idx]
    estimator = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, tol=1.0)
    estimator.fit(frame[NUMERIC].to_numpy(np.float32), frame[LABEL])
    graph = to_onnx(estimator, frame[NUMERIC].to_numpy(np.float32)[:1], options={"zipmap": False})
    graph.graph.output.remove(next(o for o in graph.graph.output if o.name == "label"))  # where its classes were
    path = tmp_path / "unlabelled.onnx"
    path.write_bytes(graph.SerializeToString())
    with pytest.raises(ModelError, match=re.escape(f"{path}: cannot tell which class each column of output")):
        load_onnx(path, columns=NUMERIC, favourable=["good"])

    onnx.helper.set_model_props(graph, {"classes": json.dumps(["bad", "good"])})
    path.write_bytes(graph.SerializeToString())
    model = load_onnx(path, columns=NUMERIC, favourable=["good"], labels=LABELS)
    expected = estimator.predict_proba(wide_data.frame[NUMERIC].to_numpy(np.float32))[:, 1]
    assert np.abs(model.predict_frame(wide_data.frame) - expected).max() < 1e-6
