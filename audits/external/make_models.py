"""Make the example models the specs in this directory audit, as a team outside fmaudit would: a text classifier
fine-tuned with the plain Hugging Face ``Trainer`` and saved with ``save_pretrained``, a LoRA adapter trained the
same way with peft, a scikit-learn pipeline saved with skops and converted to ONNX with skl2onnx, and the file of
scores that pipeline gives every row. Each spec names its model under ``models/`` and the rows it was trained
on (``models/train_ids.csv``).

    python audits/external/make_models.py            # writes audits/external/models/ (minutes, on the CPU)

The classifier is a tiny BERT (2 layers, 32 wide, MiniLM's vocabulary) trained from scratch, and the adapter
a LoRA over the MiniLM encoder fmaudit ships: the workflow is the point, not the models. Bring your own the
same way.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 0
TEST_SHARE = 0.3
EPOCHS = 8
LORA_EPOCHS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "models", help="where the models go")
    parser.add_argument("--quick", action="store_true", help="seconds instead of minutes: models that learn little")
    args = parser.parse_args()
    make_all(args.out, quick=args.quick)


def make_all(out: Path, *, quick: bool = False) -> None:
    """Every example artifact under ``out``; ``quick`` (the tests): one epoch, the adapter over a tiny random base
    (audit it with model.source.base: models/tiny-base)."""
    out.mkdir(parents=True, exist_ok=True)
    frame, texts, labels, train = credit_rows()
    pd.DataFrame({"row": train}).to_csv(out / "train_ids.csv", index=False)
    hf_classifier(out / "credit-hf", texts[train], labels[train], epochs=1 if quick else EPOCHS)
    tiny_base = out / "tiny-base" if quick else None
    lora_epochs = 1 if quick else LORA_EPOCHS
    lora_adapter(out / "credit-lora", texts[train], labels[train], epochs=lora_epochs, tiny_base=tiny_base)
    pipeline = sklearn_pipeline(frame.iloc[train], labels[train])
    save_skops(pipeline, out / "credit-pipeline.skops")
    save_onnx(pipeline, frame, out / "credit-pipeline.onnx")
    scores = pipeline.predict_proba(frame[COLUMNS])[:, list(pipeline.classes_).index("good")]
    pd.DataFrame({"row": np.arange(len(frame)), "score": scores}).to_csv(out / "credit-scores.csv", index=False)


COLUMNS = [
    "status_of_existing_checking_account", "duration_in_month", "credit_history", "purpose", "credit_amount",
    "savings_account_and_bonds", "present_employment_since", "installment_rate_in_percentage_of_disposable_income",
    "other_debtors_or_guarantors", "property", "age_in_years", "other_installment_plans", "housing",
]
"""The columns the pipeline reads: the spec's template fields without sex and foreign-worker status."""


def credit_rows() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """German Credit as the specs read it (the texts through their template), and a seeded training split."""
    from fmaudit.data import prepare
    from fmaudit.spec import load_spec

    loaded = load_spec(HERE / "credit-hf.yaml")
    data = prepare(loaded.spec.data, base_dir=loaded.base_dir)
    rng = np.random.default_rng(SEED)
    train = np.sort(rng.choice(data.n_rows, size=round(data.n_rows * (1 - TEST_SHARE)), replace=False))
    labels = data.frame["creditability"].astype(str).to_numpy()
    return data.frame, np.asarray(data.texts, dtype=object), labels, train


def tiny_bert(directory: Path, *, seed: int = SEED) -> Path:
    """A 2-layer, 32-wide BERT classifier (random weights) with MiniLM's tokenizer, saved to ``directory``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from fmaudit.models.text import BUNDLED_MINILM, resolve_base_model

    minilm = resolve_base_model(BUNDLED_MINILM, base_dir=HERE, cache_dir=HERE)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=sum(1 for _ in (minilm / "vocab.txt").open(encoding="utf-8")),
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=256, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1},
    )
    directory.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(directory, safe_serialization=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (minilm / name).is_file():
            shutil.copy(minilm / name, directory / name)
    return directory


def fine_tune(model, tokenizer, texts, labels, work: Path, *, epochs: int, rate: float):  # type: ignore[no-untyped-def]
    """Train with the plain transformers Trainer, as most teams do (default AdamW), on the rows with the
    minority class repeated until both classes are as frequent (else a small model approves everyone)."""
    import torch
    from transformers import Trainer, TrainingArguments

    good = labels == "good"
    minority = np.flatnonzero(~good if good.mean() >= 0.5 else good)
    extra = np.random.default_rng(SEED).choice(minority, size=abs(int(good.sum()) - int((~good).sum())))
    order = np.concatenate([np.arange(len(labels)), extra])
    encoded = tokenizer(list(texts[order]), truncation=True, max_length=128, padding="longest", return_tensors="pt")
    targets = torch.tensor(good[order].astype(np.int64))

    class Rows(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(targets)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
                    "labels": targets[i]}

    arguments = TrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=32, learning_rate=rate,
        seed=SEED, report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True, use_cpu=True,
    )
    Trainer(model=model, args=arguments, train_dataset=Rows()).train()
    return model


def hf_classifier(directory: Path, texts: np.ndarray, labels: np.ndarray, *, epochs: int) -> None:
    """A BERT classifier fine-tuned with Trainer and saved with save_pretrained (safetensors, tokenizer)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tiny_bert(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    trained = fine_tune(model, tokenizer, texts, labels, directory / "trainer", epochs=epochs, rate=1e-3)
    trained.save_pretrained(directory)
    shutil.rmtree(directory / "trainer", ignore_errors=True)


def lora_adapter(
    directory: Path, texts: np.ndarray, labels: np.ndarray, *, epochs: int, tiny_base: Path | None = None
) -> None:
    """A LoRA adapter (and the classifier head it trains) over MiniLM, the pretrained encoder fmaudit ships,
    saved with PeftModel.save_pretrained: the spec names the base (``base: minilm``), as the adapter's own
    config records only the local path it was trained from. ``tiny_base``: over a random tiny BERT made there
    instead, in seconds (the tests' workflow check; such a model learns nothing)."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fmaudit.models.text import BUNDLED_MINILM, resolve_base_model

    base = tiny_bert(tiny_base) if tiny_base else resolve_base_model(BUNDLED_MINILM, base_dir=HERE, cache_dir=HERE)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(
        AutoModelForSequenceClassification.from_pretrained(base, num_labels=2),
        LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["query", "value"]),
    )
    trained = fine_tune(model, tokenizer, texts, labels, directory / "trainer", epochs=epochs, rate=2e-3)
    trained.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    shutil.rmtree(directory / "trainer", ignore_errors=True)


def sklearn_pipeline(frame: pd.DataFrame, labels: np.ndarray):  # type: ignore[no-untyped-def]
    """One-hot categorical columns, standardised numbers, logistic regression: a classic scorecard."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in COLUMNS if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in COLUMNS if c not in numeric]
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), categorical), ("numbers", StandardScaler(), numeric)]
    )
    pipeline = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000, class_weight="balanced"))])
    return pipeline.fit(frame[COLUMNS], labels)


def save_skops(pipeline, path: Path) -> None:  # type: ignore[no-untyped-def]
    import skops.io

    skops.io.dump(pipeline, path)


def save_onnx(pipeline, frame: pd.DataFrame, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The same pipeline as ONNX, one input per column (named after it), probabilities as a plain tensor."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types = [
        (c, FloatTensorType([None, 1]) if pd.api.types.is_numeric_dtype(frame[c]) else StringTensorType([None, 1]))
        for c in COLUMNS
    ]
    onnx_model = to_onnx(pipeline, initial_types=types, options={id(pipeline): {"zipmap": False}})
    path.write_bytes(onnx_model.SerializeToString())


if __name__ == "__main__":
    main()
