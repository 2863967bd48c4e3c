"""The tabular runner: encoding checked against scikit-learn, the MLP trained with and without DP-SGD through
the same loop and cache, spec keys validated per model kind, and text attacks refused for it (the whole tabular
audit from the command line is in tests/e2e/test_tabular_end_to_end.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from fmaudit.core.errors import ExitCode, SpecError
from fmaudit.data import prepare, template_fields
from fmaudit.models.tabular import TabularClassifier, TabularEncoder
from fmaudit.spec import DataSpec, ModelSpec, TrainingSpec, load_spec
from tests.support.runs import run_cli
from tests.support.specs import tabular_spec


def test_encoding_matches_scikit_learn_and_keeps_the_column_of_every_feature(spec_dict: dict[str, Any]) -> None:
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = prepare(DataSpec.model_validate(spec_dict["data"]), base_dir=Path.cwd()).frame
    columns = template_fields(spec_dict["data"]["template"])
    train, test = frame.iloc[:700][columns], frame.iloc[700:][columns]
    encoder = TabularEncoder.fit(train)
    encoded = encoder.transform(test)
    owners = np.array(encoder.feature_columns)
    for column in columns:
        ours = encoded[:, owners == column]
        if pd.api.types.is_numeric_dtype(train[column]):
            theirs = StandardScaler().fit(train[[column]]).transform(test[[column]])
        else:
            theirs = OneHotEncoder(handle_unknown="ignore").fit(train[[column]]).transform(test[[column]]).toarray()
        assert np.allclose(ours, theirs, atol=1e-5), column
    assert set(owners) == set(columns)
    assert TabularEncoder.from_json(encoder.to_json()) == encoder


def test_a_missing_or_unseen_category_encodes_as_all_zeros_and_a_missing_number_as_the_mean() -> None:
    train = pd.DataFrame({"c": ["a", "b", None, "a"], "x": [1.0, 3.0, None, 2.0]})
    test = pd.DataFrame({"c": [None, "z", "b"], "x": [None, 3.0, 1.0]})
    encoder = TabularEncoder.fit(train)
    encoded = encoder.transform(test)
    assert encoder.feature_columns == ["c", "c", "x"]
    assert encoded[:, :2].tolist() == [[0, 0], [0, 0], [0, 1]]
    assert encoded[0, 2] == 0.0 and encoded[1, 2] > 0 > encoded[2, 2]


@pytest.mark.parametrize("private", [False, True])
def test_the_mlp_trains_through_the_one_loop_with_and_without_dp_and_is_cached(
    private: bool, spec_dict: dict[str, Any], tmp_path: Path
) -> None:
    from fmaudit.training.fine_tuning import fine_tune

    spec_dict["data"]["max_rows"] = 200
    data_spec = DataSpec.model_validate(spec_dict["data"])
    data = prepare(data_spec, base_dir=tmp_path)
    privacy = {"privacy": {"target_epsilon": 8, "delta": 1e-4}} if private else {}
    training = TrainingSpec(epochs=2, batch_size=16, learning_rate=1e-2, **privacy)  # type: ignore[arg-type]

    def train() -> tuple[Any, Any]:
        return fine_tune(
            model_spec=ModelSpec(kind="tabular", hidden=[8]),
            base_dir=tmp_path,
            data=data,
            data_spec=data_spec,
            data_sha256="d",
            training=training,
            cache_dir=tmp_path / "cache",
            show_progress=False,
        )

    classifier, record = train()
    assert isinstance(classifier, TabularClassifier)
    assert record.base_model == "tabular MLP (hidden [8])" and len(record.epoch_losses) == 2
    assert (record.privacy is not None) == private
    if record.privacy is not None:
        assert record.privacy.epsilon <= 8.01 and record.privacy.dataset_size == len(data.train_idx)
    scores = classifier.predict_rows(data, data.test_idx)
    assert scores.shape == (len(data.test_idx),) and ((scores > 0) & (scores < 1)).all()
    again, cached = train()
    assert cached.from_cache and cached.weights_sha256 == record.weights_sha256
    assert np.allclose(again.predict_rows(data, data.test_idx), scores)


def test_keys_of_the_other_model_kind_are_errors_naming_file_and_key(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["model"] = {"kind": "tabular", "base": "minilm", "hidden": [0]}
    spec_dict["training"]["max_length"] = 64
    path = write_spec(spec_dict)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.problems == [f"{path}: model.hidden: hidden layer widths must be >= 1; got [0]"]
    spec_dict["model"]["hidden"] = [16]
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(spec_dict))
    assert caught.value.problems[0] == f"{path}: model.base: names a pretrained text model; a tabular model has none"
    assert any(
        p.startswith(f"{path}: training.max_length: configures a pretrained text encoder")
        for p in caught.value.problems
    )
    spec_dict["model"] = {"hidden": [16]}
    del spec_dict["training"]["max_length"]
    with pytest.raises(SpecError, match="model.hidden: configures the tabular MLP; this model is kind: text"):
        load_spec(write_spec(spec_dict))


def test_text_attacks_are_refused_for_a_tabular_model(spec_dict: dict[str, Any], tmp_path: Path) -> None:
    spec = tabular_spec(spec_dict)
    spec["audits"]["robustness"] = {}
    path = tmp_path / "tabular.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, _ = run_cli(["validate", str(path)])
    assert code == ExitCode.INPUT_ERROR
    from fmaudit.engine.pipeline import plan

    with pytest.raises(SpecError, match="audits.robustness.recipes: TextAttack recipes attack text; got model.kind"):
        plan(path)
