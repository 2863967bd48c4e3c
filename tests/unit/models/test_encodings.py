"""The shared cache of a frozen encoder's pooled vectors: same scores as the full model, each distinct text
encoded once across models and processes, safetensors on disk (never pickle), bounded memory."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest

from fmaudit.models.encodings import EncoderCache, open_cache, text_key, totals

TEXTS = [
    "checking account: none; duration: 12 months; purpose: car (new)",
    "checking account: ... < 0 DM; duration: 48 months; purpose: radio/television; amount: 12000 DM",
    "short",
    "checking account: none; duration: 12 months; purpose: car (new)",  # a repeat
    "a much longer text " * 20,
]


def _head_only(tiny_bert: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    from fmaudit.models.text import TextClassifier, load_pretrained

    model, tokenizer = load_pretrained(tiny_bert)
    classifier = TextClassifier(model, tokenizer, max_length=64, batch_size=2)
    plain = TextClassifier(model, tokenizer, max_length=64, batch_size=2)
    classifier.use_encodings(EncoderCache(cache_dir))
    return classifier, plain


def test_scores_through_the_cache_equal_the_full_model(tiny_bert: Path, tmp_path: Path) -> None:
    classifier, plain = _head_only(tiny_bert, tmp_path)
    expected = plain.predict_proba(TEXTS)
    np.testing.assert_allclose(classifier.predict_proba(TEXTS), expected, atol=1e-6, rtol=0)
    assert classifier.encodings is not None
    assert classifier.encodings.totals.texts == 4 and classifier.encodings.totals.encoded == 4  # one repeat
    np.testing.assert_allclose(classifier.predict_proba(TEXTS[::-1]), expected[::-1], atol=1e-6, rtol=0)
    assert classifier.encodings.totals.encoded == 4  # nothing encoded twice
    assert not np.allclose(expected, expected[0])  # the texts are told apart: the check above could fail


def test_models_sharing_an_encoder_share_its_vectors(tiny_bert: Path, tmp_path: Path) -> None:
    """A second head on the same encoder (the twin, a reference model) runs no encoder pass of its own."""
    import torch

    from fmaudit.models.text import TextClassifier, load_pretrained

    cache = EncoderCache(tmp_path)
    first, _ = _head_only(tiny_bert, tmp_path)
    first.use_encodings(cache)
    first.predict_proba(TEXTS)
    model, tokenizer = load_pretrained(tiny_bert)
    with torch.no_grad():
        model.classifier.weight.mul_(-3.0)  # another head
    twin, plain_twin = TextClassifier(model, tokenizer, max_length=64), TextClassifier(model, tokenizer, max_length=64)
    twin.use_encodings(cache)
    np.testing.assert_allclose(twin.predict_proba(TEXTS), plain_twin.predict_proba(TEXTS), atol=1e-6, rtol=0)
    assert cache.totals.encoded == 4


def test_vectors_are_read_back_from_safetensors_shards_without_the_encoder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    table = {t: rng.normal(size=8).astype(np.float32) for t in TEXTS}

    def encode(batch: list[str]) -> np.ndarray:
        return np.stack([table[t] for t in batch])

    first = EncoderCache(tmp_path)
    written = first.vectors(TEXTS, encode)
    first.flush()
    shards = list(tmp_path.glob("*.safetensors"))
    assert len(shards) == 1

    def refuse(batch: list[str]) -> np.ndarray:
        raise AssertionError(f"encoder ran on {batch}")

    reread = EncoderCache(tmp_path).vectors(TEXTS, refuse)
    np.testing.assert_array_equal(reread, written)


def test_a_planted_or_damaged_shard_is_ignored_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    class Planted:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.write_text, (marker, "code ran"))

    (tmp_path / "planted.safetensors").write_bytes(pickle.dumps(Planted()))
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00")
    calls: list[int] = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        return np.ones((len(batch), 3), dtype=np.float32)

    out = EncoderCache(tmp_path).vectors(TEXTS[:2], encode)
    assert out.shape == (2, 3) and sum(calls) == 2
    assert not marker.exists()


def test_memory_is_bounded_and_evicted_vectors_come_back_from_disk(tmp_path: Path) -> None:
    texts = [f"text {i}" for i in range(200)]
    table = {t: np.full(16, i, dtype=np.float32) for i, t in enumerate(texts)}
    cache = EncoderCache(tmp_path, max_bytes=16 * 4 * 50)  # room for 50 vectors
    cache.vectors(texts, lambda batch: np.stack([table[t] for t in batch]))
    cache.flush()
    assert len(cache._memory) <= 50

    def refuse(batch: list[str]) -> np.ndarray:
        raise AssertionError("evicted vectors must be read back from disk, not encoded")

    np.testing.assert_array_equal(cache.vectors(texts[:10], refuse), np.stack([table[t] for t in texts[:10]]))


def _encode_in_child(job: tuple[Path, list[str]]) -> int:
    directory, texts = job
    open_cache(directory).vectors(texts, lambda batch: np.stack([np.full(4, len(t), dtype=np.float32) for t in batch]))
    return len(texts)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_forked_workers_write_their_own_vectors_and_count_in_the_parent(tmp_path: Path) -> None:
    """The attack workers are forked: what they encode reaches the disk cache and the run's totals."""
    cache = open_cache(tmp_path / "enc")
    before = totals()
    cache.vectors(["parent text"], lambda batch: np.zeros((len(batch), 4), dtype=np.float32))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        jobs = [(tmp_path / "enc", ["child a", "child b"]), (tmp_path / "enc", ["child c"])]
        assert pool.map(_encode_in_child, jobs) == [2, 1]
        pool.close()
        pool.join()
    done = totals() - before
    assert (done.texts, done.encoded) == (4, 4)
    cache.flush()
    on_disk = EncoderCache(tmp_path / "enc")
    assert {text_key(t) for t in ["parent text", "child a", "child b", "child c"]} <= set(on_disk._on_disk)


def test_only_head_only_bert_style_models_can_use_the_cache(tiny_llama: Path, tmp_path: Path) -> None:
    from fmaudit.core.errors import ModelError
    from fmaudit.models.text import TextClassifier, load_pretrained

    model, tokenizer = load_pretrained(tiny_llama)
    with pytest.raises(ModelError, match="no dropout \\+ linear head"):
        TextClassifier(model, tokenizer, max_length=32).use_encodings(EncoderCache(tmp_path))


def test_a_head_only_run_scores_from_the_cache_and_a_later_run_encodes_nothing(
    tiny_bert: Path, tmp_path: Path, spec_dict, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Through the pipeline: the audited model, its reference model and every plugin share one encoder cache;
    a later process (a fresh cache object on the same directory) reads every vector from disk and finds the
    same figures; the scores equal the full model's."""
    import json

    import pandas as pd

    from fmaudit.engine.pipeline import run
    from fmaudit.models import encodings
    from fmaudit.models.text import TextClassifier, load_pretrained
    from tests.support.runs import without_volatile

    spec_dict["model"]["base"] = str(tiny_bert)
    spec_dict["data"]["max_rows"] = 160
    spec_dict["training"] = {"epochs": 2, "batch_size": 32, "max_length": 48, "train_layers": 0}
    spec_dict["audits"] = {
        "performance": {"n_boot": 20},
        "fairness": {"n_boot": 20, "min_group_size": 5, "counterfactual_rows": 20},
        "privacy": {"n_boot": 20, "members": 30},
    }
    spec_dict["gates"] = []
    path = tmp_path / "head.yaml"
    path.write_text(json.dumps(spec_dict))

    def audit(out: str) -> tuple[dict, pd.DataFrame]:  # type: ignore[type-arg]
        monkeypatch.setattr(encodings, "_OPEN", {})  # as in a new process
        result = run(path, out=tmp_path / out, cache_dir=tmp_path / "cache", show_progress_bars=False)
        frame = pd.read_csv(result.report_dir / "predictions.csv")
        return json.loads((result.report_dir / "findings.json").read_text()), frame

    first, scores = audit("first")
    stages = {s["stage"]: s for s in first["provenance"]["stages"]}
    assert stages["train or load: model"]["encoded"] > 0  # the training rows
    assert 0.9 * len(scores) < stages["score test split: model"]["encoded"] <= len(scores)  # test rows (a few repeat)
    assert stages["train or load: reference model (no DP)"]["texts"] == 0  # its rows were all seen already
    assert stages["audit model: fairness"]["encoded"] > 0  # counterfactual rows: new texts

    second, again = audit("second")
    assert sum(s["encoded"] for s in second["provenance"]["stages"]) == 0
    # Fewer texts than the first run: the models come from the model cache, so no training rows are encoded.
    assert 0 < sum(s["texts"] for s in second["provenance"]["stages"]) < sum(s["texts"] for s in stages.values())
    assert without_volatile(second) == without_volatile(first)
    model, tokenizer = load_pretrained(Path(first["training"]["base_model_dir"]))
    full = TextClassifier(model, tokenizer, max_length=48)
    cached = Path(tmp_path / "cache" / "models" / first["training"]["cache_key"])
    full.model.load_state_dict(TextClassifier.load(cached, max_length=48, base=tiny_bert).model.state_dict())
    from fmaudit.data import prepare
    from fmaudit.spec import DataSpec

    data = prepare(DataSpec.model_validate(spec_dict["data"]), base_dir=tmp_path)
    np.testing.assert_allclose(full.predict_rows(data, again["row_id"].to_numpy()), again["score"], atol=1e-6, rtol=0)


def test_a_pickled_cache_becomes_the_receiving_process_cache_of_the_same_directory(tmp_path: Path) -> None:
    """A classifier sent to a worker (Ray pickles it) keeps scoring from the same disk cache."""
    cache = open_cache(tmp_path / "enc")
    assert pickle.loads(pickle.dumps(cache)) is cache  # same process: the same object
    cache.vectors(["a"], lambda batch: np.ones((len(batch), 2), dtype=np.float32))
    cache.flush()
    moved = EncoderCache(tmp_path / "enc")
    assert text_key("a") in moved._on_disk
