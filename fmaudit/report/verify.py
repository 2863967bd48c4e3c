"""``fmaudit verify``: every file against the manifest's hashes, the manifest against its signature, and (with
``--model``) a deployment artifact against the weights the manifest says were audited."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fmaudit.core.errors import OutputError
from fmaudit.core.provenance import sha256_file, sha256_files
from fmaudit.report.export_record import EXPORT_FILE, read_export
from fmaudit.report.manifest import MANIFEST, SIGNATURE, audited_weights, check_files, check_listed

WEIGHTS_FILE = "model.safetensors"
"""What a bare Hugging Face directory (one without export.json) is checked by."""


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


def verify_model(run_dir: Path, model_dir: Path) -> Verification:
    """Whether ``model_dir`` is the model ``run_dir`` audited (check the run itself first, ``verify_run``).

    With export.json: it must name the run's audited weights, every file must hash as it lists, no other file
    may be there, and the file it says is the audited weights must hash to them. A merged model or a peft
    adapter has no such file: export.json alone then ties it to the audit, and the message says so. Without
    export.json (a bare Hugging Face directory): its model.safetensors must hash to the audited weights.
    """
    weights = audited_weights(run_dir)
    if model_dir.is_file():  # a model trained elsewhere that is one file (skops, ONNX, a scores file)
        if sha256_file(model_dir) != weights:
            return Verification(False, f"FAILED: {model_dir.name}: {_not_audited(weights)}")
        return Verification(True, f"ok: {model_dir.name} is the audited model")
    if not model_dir.is_dir():
        raise OutputError(f"{model_dir}: no such model file or directory")
    weight_files = sorted(model_dir.glob("*.safetensors"))
    several = len(weight_files) > 1 or [f.name for f in weight_files] == ["adapter_model.safetensors"]
    if several and not (model_dir / EXPORT_FILE).is_file():
        # a model trained elsewhere in shards, or a peft adapter: identified by all its weight files
        if sha256_files(weight_files) != weights:
            return Verification(False, f"FAILED: {', '.join(f.name for f in weight_files)}: {_not_audited(weights)}")
        return Verification(True, f"ok: {', '.join(f.name for f in weight_files)} are the audited model's weights")
    if not (model_dir / EXPORT_FILE).is_file():
        file = model_dir / WEIGHTS_FILE
        if not file.is_file():
            return Verification(False, f"FAILED: {WEIGHTS_FILE}: missing (and no {EXPORT_FILE} to check against)")
        if sha256_file(file) != weights:
            return Verification(False, f"FAILED: {WEIGHTS_FILE}: {_not_audited(weights)}")
        return Verification(
            True, f"ok: {WEIGHTS_FILE} is the audited weights; no {EXPORT_FILE}, so the other files are not checked"
        )
    record = read_export(model_dir)
    if record.weights_sha256 != weights:
        return Verification(
            False,
            f"FAILED: {EXPORT_FILE}: exported from weights {record.weights_sha256[:12]}… of run {record.run_id}; "
            f"{_not_audited(weights)}",
        )
    check = check_listed(model_dir, record.files, own=(EXPORT_FILE,), listing=EXPORT_FILE)
    if not check.ok:
        return Verification(False, f"FAILED: {check.problem}")
    listed = f"ok: {check.files} files match {EXPORT_FILE}"
    if record.weights_file is None:
        return Verification(
            True,
            f"{listed}; {record.form}: derived from the audited weights as {EXPORT_FILE} records "
            "(no file is the audited weights byte for byte)",
        )
    if sha256_file(model_dir / record.weights_file) != weights:
        return Verification(False, f"FAILED: {record.weights_file}: {_not_audited(weights)}")
    return Verification(True, f"{listed}; {record.weights_file} is the audited weights")


def _not_audited(weights: str) -> str:
    return f"does not hash to the audited weights (SHA-256 {weights[:12]}… in {MANIFEST})"
