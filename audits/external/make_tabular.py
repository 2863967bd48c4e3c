"""Make the example models trained outside fmaudit: a scikit-learn pipeline (one-hot categories, standardised
numbers, logistic regression) fitted on the training split of audits/credit-tabular.yaml's data, saved with skops
(credit.skops) and exported with skl2onnx, one input per column (credit.onnx). The files are not committed: run

    python audits/external/make_tabular.py

to write them beside this script. Both score the same (to float32 precision), so an audit of either gives the same
performance and fairness figures. Needs ``pip install 'fmaudit[tabular]' skl2onnx``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent / "credit-tabular.yaml"


def main() -> None:
    import skops.io
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from fmaudit.data import is_numeric, prepare, template_fields
    from fmaudit.spec import DataSpec

    spec = DataSpec.model_validate(yaml.safe_load(SPEC.read_text())["data"])
    data = prepare(spec, base_dir=SPEC.parent)
    fields = template_fields(spec.template)
    train = data.frame.iloc[data.train_idx]
    numeric = [f for f in fields if is_numeric(train[f])]
    categorical = [f for f in fields if f not in numeric]
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), categorical), ("numbers", StandardScaler(), numeric)]
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000, class_weight="balanced"))])
    model.fit(train[fields], train[spec.label].astype(str))

    skops.io.dump(model, HERE / "credit.skops")
    types = [
        (f, Int64TensorType([None, 1]) if train[f].dtype.kind in "iu" else FloatTensorType([None, 1]))
        if f in numeric
        else (f, StringTensorType([None, 1]))
        for f in fields
    ]
    (HERE / "credit.onnx").write_bytes(convert_sklearn(model, initial_types=types).SerializeToString())
    print(f"wrote {HERE / 'credit.skops'} and {HERE / 'credit.onnx'}: fitted on {len(train)} training rows")


if __name__ == "__main__":
    main()
