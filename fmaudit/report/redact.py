"""Redaction: a findings document without applicant-level content, every aggregate figure and gate unchanged.

Withheld: rows of tables marked ``applicant_rows`` (attack examples, adverse-action notices, counterfactual
examples), highlighted explanations, and the example model input. Each is replaced by its count and a note;
a table's "Row" column survives as salted hashes, so whoever holds the unredacted run (and so the salt) can
match a withheld row, and nobody else can. The salt is never written into a redacted output.

Keyed: the hashes that are exact functions of the training rows (the data file's SHA-256, the training rows'
hash, the model cache keys) become HMACs under the same salt, so nobody holding a candidate neighbouring data
set can confirm it against them, and the holder of the unredacted run can still match them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
from typing import Any

from fmaudit.report.schema import FindingsDocument, TableEntry

ROW_COLUMN = "Row"
HASHED_ROW_COLUMN = "Row (salted hash)"
WITHHELD = "withheld: redacted report"


def redact_document(document: FindingsDocument, salt: bytes) -> FindingsDocument:
    """A redacted copy of ``document``; ``metrics`` and ``gates`` are carried over untouched."""
    if document.get("redacted"):
        return document
    out = copy.deepcopy(document)
    out["redacted"] = True
    out["data"]["example_text"] = WITHHELD
    out["provenance"]["data_sha256"] = keyed(out["provenance"]["data_sha256"], salt)
    records = [out["training"], *(model["training"] for model in out["compared_models"])]
    for record in records:
        for field in ROW_DERIVED:
            if record.get(field):
                record[field] = keyed(record[field], salt)
    for model in (out["replicas"] or {}).get("models", []):
        model["cache_key"] = keyed(model["cache_key"], salt)
    for section in out["sections"]:
        section["tables"] = [_redact_table(table, salt) for table in section["tables"]]
        if section["highlights"]:
            count = len(section["highlights"])
            note = f"{count} highlighted example{'s' * (count != 1)} of applicants' inputs {WITHHELD}."
            section["notes"] = [*section["notes"], note]  # a tuple in a document built in memory
            section["highlights"] = []
    return out


def _redact_table(table: TableEntry, salt: bytes) -> TableEntry:
    if not table.get("applicant_rows"):
        return table
    count = len(table["rows"])
    keep = table["columns"].index(ROW_COLUMN) if ROW_COLUMN in table["columns"] else None
    note = f"{count} applicant-level row{'s' * (count != 1)} {WITHHELD}"
    return {
        **table,
        "columns": [HASHED_ROW_COLUMN] if keep is not None else [],
        "rows": [[row_hash(row[keep], salt)] for row in table["rows"]] if keep is not None else [],
        "note": note + (" (only salted hashes of their row ids remain)." if keep is not None else "."),
    }


ROW_DERIVED = ("rows_sha256", "cache_key")
"""Fields of a training record that are exact functions of the training rows."""


def keyed(digest: str, salt: bytes) -> str:
    """A row-derived hash keyed with the run's salt (HMAC-SHA-256), marked as such."""
    return "hmac:" + hmac.new(salt, digest.encode(), hashlib.sha256).hexdigest()


def row_hash(row_id: Any, salt: bytes) -> str:
    """HMAC-SHA-256 of a row id under the run's salt, shortened to 16 hex digits."""
    return hmac.new(salt, str(row_id).encode(), hashlib.sha256).hexdigest()[:16]


def run_salt(predictions_csv: bytes | None) -> bytes:
    """The per-run salt: the digest of the run's unredacted predictions.csv, which redacted outputs withhold.

    Deterministic, so re-rendering a run redacted gives the same bytes; secret to everyone without the full
    per-row predictions. A run whose predictions are gone gets a random salt (its hashes match nothing).
    """
    if predictions_csv is None:
        return os.urandom(32)
    return hashlib.sha256(b"fmaudit redaction salt\0" + predictions_csv).digest()
