"""``fmaudit verify``: every file against the manifest's hashes, and the manifest against its signature."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fmaudit.core.errors import OutputError
from fmaudit.report.manifest import MANIFEST, SIGNATURE, check_files


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str


def verify_run(run_dir: Path, key_path: Path | None = None) -> Verification:
    """The signature when a key is given, then every hash (naming the first file that does not match).

    A missing or malformed manifest is an OutputError (exit 2): there is nothing to verify against. Under a key a
    rewritten manifest fails the signature first, whatever it now holds.

    Without a key the hashes alone are checked and the message says the signature was not: matching hashes
    prove nothing against someone who could also rewrite the manifest.
    """
    from fmaudit.report.signing import public_key, signature_matches

    if not run_dir.is_dir():
        raise OutputError(f"{run_dir}: no such run directory")
    key = public_key(key_path) if key_path is not None else None
    signature = run_dir / SIGNATURE
    if key is not None:  # the signature first: a rewritten manifest is then named as such
        if not signature.is_file():
            return Verification(False, f"FAILED: {SIGNATURE}: missing (the run was not signed)")
        manifest = run_dir / MANIFEST
        if not manifest.is_file():
            raise OutputError(f"{manifest}: missing (the signature in {SIGNATURE} has nothing to be checked against)")
        if not signature_matches(key, manifest.read_bytes(), signature.read_bytes()):
            return Verification(
                False, f"FAILED: {SIGNATURE}: does not match {MANIFEST} under key {key_path} (edited or another signer)"
            )
    check = check_files(run_dir)
    if not check.ok:
        return Verification(False, f"FAILED: {check.problem}")
    if key is None:
        unsigned = "signature present but not checked (give --key)" if signature.is_file() else "unsigned"
        return Verification(True, f"ok: {check.files} files match manifest.json; {unsigned}")
    return Verification(True, f"ok: {check.files} files match manifest.json; signature valid for key {key_path}")
