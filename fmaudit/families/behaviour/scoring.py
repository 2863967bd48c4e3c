"""Re-scoring edited rows in batches: every edit of every test is collected first, then scored once per
template in fixed chunks, optionally spread over forked worker processes (one torch thread each).

Chunks are cut the same way whatever the number of workers, so a text model pads every batch to the same
length and the scores do not depend on how chunks were spread.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

CHUNK = 64
"""Records per scoring call: a multiple of the text model's batch size, so chunks pad alike."""


class RecordScorer(Protocol):
    """The part of fmaudit's Classifier protocol this family uses (models are duck-typed here)."""

    @property
    def kind(self) -> str: ...

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Edit:
    """One edited copy of a sampled row: what the model reads, and what changed."""

    position: int
    """Index of the row in the sample."""
    record: dict[str, object]
    template: str
    test: str
    """Which test made it: a field (monotonicity), a variant or a template name (invariance)."""
    change: str
    """What changed, for the report, e.g. "'< 100 DM' → '100 <= ... < 500 DM'"."""


_JOB: tuple[RecordScorer, list[tuple[str, list[Mapping[str, object]]]]] | None = None
"""The model and the chunks, set before forking so that workers inherit them."""


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _score_chunk(index: int) -> np.ndarray:
    assert _JOB is not None, "worker started without a job"
    model, chunks = _JOB
    template, records = chunks[index]
    return np.asarray(model.predict_records(records, template=template), dtype=np.float64)


def score_edits(model: RecordScorer, edits: Sequence[Edit], *, workers: int = 1) -> np.ndarray:
    """P(favourable) for every edit, in order."""
    global _JOB
    by_template: dict[str, list[int]] = {}
    for index, edit in enumerate(edits):
        by_template.setdefault(edit.template, []).append(index)
    order = [i for indices in by_template.values() for i in indices]
    chunks = [
        (template, [cast(Mapping[str, object], edits[i].record) for i in indices[start : start + CHUNK]])
        for template, indices in by_template.items()
        for start in range(0, len(indices), CHUNK)
    ]
    _JOB = (model, chunks)
    try:
        if workers > 1 and len(chunks) > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(min(workers, len(chunks)), _init_worker) as pool:
                parts = pool.map(_score_chunk, range(len(chunks)))
        else:
            parts = [_score_chunk(i) for i in range(len(chunks))]
    finally:
        _JOB = None
    scores = np.empty(len(edits))
    if parts:
        scores[order] = np.concatenate(parts)
    return scores


def records_scorer(model: RecordScorer) -> Callable[[Sequence[Mapping[str, object]], str], np.ndarray]:
    """``(records, template) -> scores`` in the same fixed chunks as ``score_edits``."""

    def score(records: Sequence[Mapping[str, object]], template: str) -> np.ndarray:
        edits = [Edit(i, dict(r), template, "", "") for i, r in enumerate(records)]
        return score_edits(model, edits)

    return score
