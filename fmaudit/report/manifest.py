"""manifest.json: every output file of a run with its SHA-256, plus the run's input hashes; and its check.

The manifest holds no timestamp of its own, so re-rendering a run gives the same manifest, byte for byte.
With a signing key the manifest's exact bytes are signed (manifest.sig, see signing.py); the signature
then covers every file through its hash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fmaudit.core.errors import OutputError
from fmaudit.core.provenance import sha256_file
from fmaudit.report.schema import FindingsDocument, json_kind

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


def output_files(directory: Path, own: tuple[str, ...] = (MANIFEST, SIGNATURE)) -> list[str]:
    """Relative paths of the files a listing covers (all but its ``own`` files), sorted."""
    return sorted(
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file() and path.relative_to(directory).as_posix() not in own
    )


@dataclass(frozen=True)
class Check:
    """The outcome of checking a run directory against its manifest."""

    ok: bool
    problem: str = ""
    """The first mismatch, naming its file; empty when ``ok``."""
    files: int = 0


DIGEST = re.compile(r"[0-9a-f]{64}")


def read_manifest(directory: Path) -> dict[str, str]:
    """The files manifest.json lists, by relative path, with their SHA-256.

    A manifest that is missing, unreadable or not of this shape cannot be checked against: an OutputError (exit 2)
    naming the file, never a verdict on the run. A listed path must lie inside the run directory, so that checking
    a manifest never reads a file outside it.
    """
    path = directory / MANIFEST
    if not path.is_file():
        raise OutputError(f"{path}: missing: nothing to check the run's files against")
    return listed_files(path, read_listing(path, "a manifest"), own=(MANIFEST, SIGNATURE), inside="the run directory")


def audited_weights(directory: Path) -> str:
    """The SHA-256 of the weights the run audited, as its manifest records it (``inputs.weights_sha256``)."""
    path = directory / MANIFEST
    inputs = read_listing(path, "a manifest").get("inputs")
    digest = inputs.get("weights_sha256") if isinstance(inputs, dict) else None
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise OutputError(f"{path}: inputs.weights_sha256: expected a SHA-256 in hex; got {digest!r}")
    return digest


def read_listing(path: Path, what: str) -> dict[str, Any]:
    """A listing's JSON object (a manifest, an export record); an OutputError naming the file when it cannot be
    read, is not JSON or is not an object."""
    try:
        listing = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OutputError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except ValueError as exc:  # not UTF-8, or not JSON
        raise OutputError(f"{path}: not {what}: not valid JSON ({exc})") from exc
    if not isinstance(listing, dict):
        raise OutputError(f"{path}: expected an object with the key 'files'; got {json_kind(listing)}")
    return listing


def listed_files(path: Path, listing: dict[str, object], *, own: tuple[str, ...], inside: str) -> dict[str, str]:
    """A listing's ``files`` (relative path -> SHA-256), each path inside the directory and none of its ``own``
    files; else an OutputError naming the listing ``path`` and the bad entry."""
    listed = listing.get("files")
    if not isinstance(listed, dict):
        got = json_kind(listed) if "files" in listing else "no such key"
        raise OutputError(f"{path}: files: expected an object of file paths and their SHA-256; got {got}")
    for name, digest in listed.items():
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or name in own:
            raise OutputError(f"{path}: files: {name!r} is not a path inside {inside}")
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            raise OutputError(f"{path}: files.{name}: expected a SHA-256 in hex; got {digest!r}")
    return listed


def check_files(directory: Path) -> Check:
    """Every listed file present with its hash, and no unlisted file; the first problem found is named.

    Raises OutputError when the manifest itself cannot be read (``read_manifest``) or a listed file cannot be.
    """
    return check_listed(directory, read_manifest(directory), own=(MANIFEST, SIGNATURE), listing="the manifest")


def check_listed(directory: Path, listed: dict[str, str], *, own: tuple[str, ...], listing: str) -> Check:
    """Every file of ``listed`` present in ``directory`` with its hash, and no other file but the listing's
    ``own``; the first problem is named, with ``listing`` saying where the hashes came from."""
    for name, digest in listed.items():
        file = directory / name
        if not file.is_file():
            return Check(False, f"{name}: listed in {listing} but missing")
        try:
            actual = sha256_file(file)
        except OSError as exc:
            raise OutputError(f"{file}: cannot be read: {exc.strerror or exc}") from exc
        if actual != digest:
            return Check(False, f"{name}: content does not match its SHA-256 in {listing}")
    extra = [name for name in output_files(directory, own) if name not in listed]
    if extra:
        return Check(False, f"{extra[0]}: present but not listed in {listing}")
    return Check(True, files=len(listed))
