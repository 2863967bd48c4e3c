"""Ed25519 signatures over a run's manifest (manifest.sig), so an auditor can prove a report was not edited.

Keys are PEM files: a PKCS#8 private key (written readable by its owner only) and its SubjectPublicKeyInfo
public key. A private key may also be passed as PEM text in FMAUDIT_SIGNING_KEY (how CI secrets arrive).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fmaudit.core.errors import OutputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNING_KEY_ENV = "FMAUDIT_SIGNING_KEY"


def generate_keypair(private_path: Path, public_path: Path) -> None:
    """Write a new Ed25519 key pair, creating missing directories; refuse to overwrite an existing file, and
    leave neither file behind when either cannot be written."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if private_path.resolve() == public_path.resolve():
        raise OutputError(f"{private_path}: named as both the private and the public key; give --public another path")
    for path in (private_path, public_path):  # every target checked before anything is created
        if path.exists():
            raise OutputError(f"{path}: already exists; not overwriting a key")
    for path in (private_path, public_path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create its directory {path.parent}: {exc.strerror or exc}") from exc
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    written: list[Path] = []
    try:
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        written.append(private_path)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private_pem)
        with open(public_path, "xb") as public:
            written.append(public_path)
            public.write(public_pem)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise OutputError(f"{exc.filename or private_path}: cannot write the key: {exc.strerror or exc}") from exc


def signing_key(given: str | Path | None) -> Ed25519PrivateKey | None:
    """The private key from ``--sign-key`` (a path), else $FMAUDIT_SIGNING_KEY (a path or PEM text), else None."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    source = str(given) if given is not None else os.environ.get(SIGNING_KEY_ENV, "")
    if not source:
        return None
    where = "the key in $" + SIGNING_KEY_ENV if source.lstrip().startswith("-----BEGIN") else source
    pem = source.encode() if where != source else _read_key_file(Path(source))
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise OutputError(f"{where}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise OutputError(f"{where}: not an Ed25519 private key (make one with 'fmaudit keygen')")
    return key


def public_key(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(_read_key_file(path))
    except ValueError as exc:
        raise OutputError(f"{path}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise OutputError(f"{path}: not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """manifest.sig's content: the base64 Ed25519 signature of ``message``, one line."""
    return base64.b64encode(key.sign(message)) + b"\n"


def signature_matches(key: Ed25519PublicKey, message: bytes, signature_file: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(base64.b64decode(signature_file.strip(), validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _read_key_file(path: Path) -> bytes:
    if not path.is_file():
        raise OutputError(f"{path}: no such key file")
    return path.read_bytes()
