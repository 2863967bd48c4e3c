"""manifest.json: every output file of a run with its SHA-256, plus the run's input hashes; and its check.

The manifest holds no timestamp of its own, so re-rendering a run gives the same manifest, byte for byte.
With a signing key the manifest's exact bytes are signed (manifest.sig, see signing.py); the signature
then covers every file through its hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fmaudit.core.provenance import sha256_file
from fmaudit.report.schema import FindingsDocument

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MANIFEST_VERSION = 1


def build_manifest(directory: Path, document: FindingsDocument) -> bytes:
    """The manifest of every file under ``directory`` (except the manifest and its signature)."""
    provenance = document["provenance"]
    manifest = {
        "fmaudit_manifest": MANIFEST_VERSION,
        "name": document["name"],
        "run_id": provenance["run_id"],
        "fmaudit_version": provenance["versions"].get("fmaudit", ""),
        "redacted": bool(document.get("redacted")),
        "inputs": {
            key: provenance[key] for key in ("spec_sha256", "data_sha256", "base_model_sha256", "weights_sha256")
        },
        "files": {path: sha256_file(directory / path) for path in output_files(directory)},
    }
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")


def output_files(directory: Path) -> list[str]:
    """Relative paths of the files a manifest covers, sorted."""
    return sorted(
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file() and path.relative_to(directory).as_posix() not in (MANIFEST, SIGNATURE)
    )


@dataclass(frozen=True)
class Check:
    """The outcome of checking a run directory against its manifest."""

    ok: bool
    problem: str = ""
    """The first mismatch, naming its file; empty when ``ok``."""
    files: int = 0


def check_files(directory: Path) -> Check:
    """Every listed file present with its hash, and no unlisted file; the first problem found is named."""
    path = directory / MANIFEST
    if not path.is_file():
        return Check(False, f"{path}: no manifest")
    try:
        listed: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return Check(False, f"{path}: not a readable manifest ({exc})")
    for name, digest in listed.items():
        file = directory / name
        if not file.is_file():
            return Check(False, f"{name}: listed in the manifest but missing")
        if sha256_file(file) != digest:
            return Check(False, f"{name}: content does not match its SHA-256 in the manifest")
    extra = [name for name in output_files(directory) if name not in listed]
    if extra:
        return Check(False, f"{extra[0]}: present but not listed in the manifest")
    return Check(True, files=len(listed))
