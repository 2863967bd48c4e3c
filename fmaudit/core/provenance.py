"""Provenance: content hashes and library versions that make every figure traceable."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

KEY_LIBRARIES = (
    "fmaudit",
    "torch",
    "transformers",
    "tokenizers",
    "fairlearn",
    "captum",
    "opacus",
    "textattack",
    "scikit-learn",
    "pandas",
    "numpy",
    "pydantic",
    "jinja2",
)
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_dir(path: Path) -> str:
    """Hash of a directory's files: their relative names and contents, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(bytes.fromhex(sha256_file(file)))
    return digest.hexdigest()


def sha256_files(files: Sequence[Path]) -> str:
    """The identity of a model made of files: one file's sha256, or of several the hash of their names and
    hashes (sorted by name), so a model trained elsewhere is identified the same way by a run and by verify."""
    if len(files) == 1:
        return sha256_file(files[0])
    return sha256_json({file.name: sha256_file(file) for file in sorted(files)})


def sha256_json(value: Any) -> str:
    """Hash of a JSON-serialisable value in canonical form (sorted keys, no spaces)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in KEY_LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class StageTime:
    """Where a run's time went: one stage's wall time and the encoder work inside it."""

    stage: str
    seconds: float
    texts: int = 0
    """Distinct texts whose encoder output the stage asked for (from the shared encoder cache or computed)."""
    encoded: int = 0
    """Of those, texts the encoder actually ran on (the rest came from memory or the disk cache)."""
    encoder_seconds: float = 0.0


@dataclass(frozen=True)
class Provenance:
    """What a reviewer needs to trace a report back to its inputs."""

    run_id: str
    timestamp: str
    command: str
    spec_path: str
    spec_sha256: str
    data_path: str
    data_sha256: str
    base_model: str
    base_model_sha256: str
    weights_sha256: str
    seed: int
    versions: dict[str, str] = field(default_factory=library_versions)
    platform: str = field(default_factory=lambda: f"{platform.platform()} ({sys.implementation.name})")
    stages: tuple[StageTime, ...] = ()
    """Wall time per stage, in run order (writing the report itself comes after this document and is not in it)."""
