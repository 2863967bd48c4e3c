"""The frozen encoder's output per distinct text, computed once and shared.

A head-only model is ``head(pool(encoder(text)))`` with the encoder as pretrained, so every model of a run
that shares the encoder (the audited model, its twin, sweep points, reference models, seed replicas) and
every plugin that scores texts (test split, counterfactual rows, membership sets, attack queries, behaviour
edits, notices) needs the pooled vector of a text only once. Vectors are kept under a hash of the text,
bounded in memory (least recently used first out), and written to disk as safetensors shards (tensors only,
never pickle), so a later run reads them instead of running the encoder.

A cache belongs to one encoder: its directory is named by the encoder's weights hash, the pooling and the
token limit (see ``namespace``). Forked worker processes (the attack workers) inherit it; what they compute
they write as their own shards when they exit, and the counters live in shared memory, so the parent's
totals include their work.
"""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import util as mp_util
from pathlib import Path

import numpy as np

from fmaudit.core.provenance import sha256_json

KEY_BYTES = 16
"""Bytes of a text's SHA-256 kept as its key (collisions need ~2^64 texts)."""

FLUSH_EVERY = 2048
"""New vectors held in memory before they are written as a shard."""

DEFAULT_MAX_BYTES = 256 * 2**20
"""Vectors kept in memory at most (about 170,000 texts of a 384-wide encoder); older ones are read back."""

Encode = Callable[[list[str]], np.ndarray]
"""Runs the encoder on a batch of texts: one pooled vector (a row) per text."""


def namespace(base_sha256: str, *, pooling: str, max_length: int) -> str:
    """The cache directory name of one encoder: what fixes its output for a given text."""
    return sha256_json({"base": base_sha256, "pooling": pooling, "max_length": max_length})[:32]


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


@dataclass(frozen=True)
class EncoderTotals:
    """Encoder work of this process and its forked workers, over every cache it opened."""

    texts: int
    """Distinct texts whose vectors were asked for (per process: a worker counts what its parent had not seen)."""
    encoded: int
    """Of those, texts the encoder ran on (not found in memory or on disk)."""
    seconds: float
    """Time spent running the encoder."""

    def __sub__(self, other: EncoderTotals) -> EncoderTotals:
        return EncoderTotals(self.texts - other.texts, self.encoded - other.encoded, self.seconds - other.seconds)

    @property
    def seconds_per_text(self) -> float | None:
        return self.seconds / self.encoded if self.encoded else None


class EncoderCache:
    """Pooled vectors of one encoder, by text: in memory (bounded), then on disk, else computed."""

    def __init__(self, directory: Path | None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._memory: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._pending: dict[bytes, np.ndarray] = {}
        self._seen: set[bytes] = set()
        self._on_disk: dict[bytes, Path] = {}
        self._texts = multiprocessing.Value("q", 0)
        self._encoded = multiprocessing.Value("q", 0)
        self._seconds = multiprocessing.Value("d", 0.0)
        if directory is not None and directory.is_dir():
            for shard in sorted(directory.glob("*.safetensors")):
                self._index(shard)

    def __reduce__(self) -> tuple[object, tuple[Path | None]]:
        """Sent to another process (a Ray worker), a cache becomes that process's cache of the same directory."""
        return (_reopen, (self.directory,))

    def vectors(self, texts: Sequence[str], encode: Encode, *, batch_size: int = 32) -> np.ndarray:
        """One pooled vector per text (rows in the order given), running ``encode`` only on texts never seen."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        new = {k for k in keys if k not in self._seen}
        if new:
            self._seen.update(new)
            with self._texts.get_lock():
                self._texts.value += len(new)
        found = {k: v for k in dict.fromkeys(keys) if (v := self._get(k)) is not None}
        missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        if missing:
            started = time.perf_counter()
            for start in range(0, len(missing), batch_size):
                batch = missing[start : start + batch_size]
                out = np.asarray(encode([t for _, t in batch]), dtype=np.float32)
                for (k, _), vector in zip(batch, out, strict=True):
                    found[k] = vector
                    self._pending[k] = vector
                    self._remember(k, vector)
            with self._encoded.get_lock(), self._seconds.get_lock():
                self._encoded.value += len(missing)
                self._seconds.value += time.perf_counter() - started
            if len(self._pending) >= FLUSH_EVERY:
                self.flush()
        return np.stack([found[k] for k in keys])

    @property
    def totals(self) -> EncoderTotals:
        return EncoderTotals(int(self._texts.value), int(self._encoded.value), float(self._seconds.value))

    def flush(self) -> None:
        """Write vectors computed since the last flush as one shard (atomically: a shard is whole or absent)."""
        if not self._pending or self.directory is None:
            self._pending.clear()
            return
        from safetensors.numpy import save_file

        keys = list(self._pending)
        tensors = {
            "keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES),
            "vectors": np.stack([self._pending[k] for k in keys]),
        }
        name = hashlib.sha256(b"".join(keys)).hexdigest()[:32]
        self.directory.mkdir(parents=True, exist_ok=True)
        shard = self.directory / f"{name}.safetensors"
        tmp = shard.with_name(f".{shard.name}.{os.getpid()}.partial")
        save_file(tensors, str(tmp))
        tmp.rename(shard)
        self._on_disk.update(dict.fromkeys(keys, shard))
        self._pending.clear()

    def forget_seen(self) -> None:
        self._seen.clear()

    def forget_pending(self) -> None:
        """In a forked child: the parent writes what it had computed; the child writes only its own."""
        self._pending.clear()

    def _get(self, key: bytes) -> np.ndarray | None:
        vector = self._memory.get(key)
        if vector is not None:
            self._memory.move_to_end(key)
            return vector
        vector = self._pending.get(key)
        shard = self._on_disk.get(key)
        if vector is None and shard is not None:
            vector = self._load(shard).get(key)
        if vector is not None:
            self._remember(key, vector)
        return vector

    def _remember(self, key: bytes, vector: np.ndarray) -> None:
        if key in self._memory:
            return
        self._memory[key] = vector
        self._bytes += vector.nbytes
        while self._bytes > self.max_bytes and len(self._memory) > 1:
            _, old = self._memory.popitem(last=False)
            self._bytes -= old.nbytes

    def _index(self, shard: Path) -> None:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(shard), framework="numpy") as f:
                keys = f.get_tensor("keys")
        except (SafetensorError, OSError, KeyError):
            return  # a damaged shard is ignored: its texts are encoded again
        self._on_disk.update(dict.fromkeys((bytes(k) for k in keys), shard))

    def _load(self, shard: Path) -> dict[bytes, np.ndarray]:
        """Bring a whole shard into memory (texts written together are usually read together); its vectors."""
        from safetensors.numpy import load_file

        tensors = load_file(str(shard))
        vectors = {bytes(k): vector for k, vector in zip(tensors["keys"], tensors["vectors"], strict=True)}
        for k, vector in vectors.items():
            self._remember(k, vector)
        return vectors


_OPEN: dict[Path, EncoderCache] = {}


def open_cache(directory: Path) -> EncoderCache:
    """The process's one cache for this directory (so models that share an encoder share its vectors)."""
    directory = directory.resolve()
    if directory not in _OPEN:
        _OPEN[directory] = EncoderCache(directory)
    return _OPEN[directory]


def _reopen(directory: Path | None) -> EncoderCache:
    return open_cache(directory) if directory is not None else EncoderCache(None)


def totals() -> EncoderTotals:
    """Encoder work so far, over every cache this process opened."""
    caches = list(_OPEN.values())
    return EncoderTotals(
        sum(c.totals.texts for c in caches),
        sum(c.totals.encoded for c in caches),
        float(sum(c.totals.seconds for c in caches)),
    )


def count_afresh() -> None:
    """Count every text as new from now on, so that each run in one process reports its own distinct texts."""
    for cache in _OPEN.values():
        cache.forget_seen()


def flush_all() -> None:
    """Write every cache's new vectors (the pipeline calls this when a run ends)."""
    for cache in _OPEN.values():
        cache.flush()


def _forget_pending_in_child() -> None:
    for cache in _OPEN.values():
        cache.forget_pending()


class _Workers:
    """Hooks multiprocessing runs in each worker process it starts (after clearing the parent's finalizers)."""

    @staticmethod
    def started(_: object) -> None:
        # A pool worker ends through multiprocessing's exit function, which runs finalizers with a priority.
        mp_util.Finalize(None, flush_all, exitpriority=10)


_WORKERS = _Workers()
os.register_at_fork(after_in_child=_forget_pending_in_child)
mp_util.register_after_fork(_WORKERS, _Workers.started)
atexit.register(flush_all)
