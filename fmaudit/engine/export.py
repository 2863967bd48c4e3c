"""``fmaudit export``: the model a run audited, taken from the model cache and written as a standard artifact.

Text models become a Hugging Face directory (safetensors, config, tokenizer, the run's model card as
README.md); a LoRA model becomes a merged model or a peft adapter directory; the tabular MLP becomes ONNX with
its column encoding. Where a file is the audited weights it is copied byte for byte, so it hashes to what the
run's manifest records; export.json lists every file's SHA-256 either way (``fmaudit verify --model``).

Everything is written into a hidden directory beside DEST and renamed into place at the end: a failed export
leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fmaudit import __version__
from fmaudit.core.errors import OutputError
from fmaudit.core.provenance import sha256_dir, sha256_file
from fmaudit.engine.planning import default_cache_dir
from fmaudit.report.document import FINDINGS, load_document
from fmaudit.report.export_record import EXPORT_FILE, ExportRecord, Form
from fmaudit.report.manifest import audited_weights, check_files, output_files
from fmaudit.report.schema import FindingsDocument
from fmaudit.training.cache import RECORD_FILE
from fmaudit.training.records import TrainingRecord

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier

LoraForm = Literal["merged", "adapter"]
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"


@dataclass(frozen=True)
class AuditedModel:
    """A run's audited model: the findings document, its training record, and where the cache holds it."""

    document: FindingsDocument
    training: TrainingRecord
    weights_sha256: str
    directory: Path

    @property
    def kind(self) -> str:
        """'text' or 'tabular', as the spec's ``model.kind``."""
        return str(self.document["resolved_spec"]["model"]["kind"])

    @property
    def favourable(self) -> str:
        return self.document["data"]["favourable_label"]

    @property
    def max_length(self) -> int:
        return int(self.document["resolved_spec"]["training"]["max_length"])

    def load(self, directory: Path | None = None) -> Classifier:
        """The audited classifier, as the run scored it: from the cache, or from ``directory`` holding the same
        files (an ``fmaudit export`` of it in the onnx or huggingface form, checked against the run first)."""
        if self.kind == "tabular":
            from fmaudit.models.tabular import TabularClassifier

            return TabularClassifier.load(directory or self.directory)
        from fmaudit.models.pooling import recorded_pooling
        from fmaudit.models.text import TextClassifier

        return TextClassifier.load(
            directory or self.directory,
            max_length=self.max_length,
            base=Path(self.training.base_model_dir),
            pooling=recorded_pooling(self.training.pooling),
        )


@dataclass(frozen=True)
class Written:
    """What one form's writer produced: its form, the file that is the audited weights (if one is), and the
    cache files it read."""

    form: Form
    weights_file: str | None
    source: list[str]


def export_run(
    run_dir: Path, dest: Path, *, cache_dir: Path | None = None, lora: LoraForm | None = None
) -> ExportRecord:
    """Write the audited model of ``run_dir`` into ``dest`` (absent or an empty directory); return export.json.

    ``lora``: how a LoRA model ships, merged into its base (the default) or as a peft adapter; only for one."""
    cache_dir = cache_dir or default_cache_dir()
    model = audited_model(run_dir, cache_dir)
    _check_target(dest, run_dir)
    created = [parent for parent in dest.parents if not parent.exists()]  # removed again on failure
    staging = dest.parent / f".{dest.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        written = _write(model, staging, lora)
        (staging / CARD_FILE).write_text(_card(run_dir, model, written), encoding="utf-8")
        record = ExportRecord(
            run_id=model.document["provenance"]["run_id"],
            name=model.document["name"],
            kind=model.kind,
            form=written.form,
            weights_sha256=model.weights_sha256,
            weights_file=written.weights_file,
            favourable_label=model.favourable,
            max_length=model.max_length if model.kind == "text" else None,
            base_model=model.training.base_model,
            base_model_sha256=model.training.base_model_sha256,
            source={name: sha256_file(model.directory / name) for name in written.source},
            files={name: sha256_file(staging / name) for name in output_files(staging, (EXPORT_FILE,))},
            fmaudit_version=__version__,
        )
        (staging / EXPORT_FILE).write_text(record.to_json(), encoding="utf-8")
        staging.rename(dest)  # onto an empty directory too (POSIX rename)
    except BaseException:
        shutil.rmtree(created[-1] if created else staging, ignore_errors=True)
        raise
    return record


def audited_model(run_dir: Path, cache_dir: Path) -> AuditedModel:
    """The run's audited model in the cache; an OutputError (exit 2) when the run does not match its manifest,
    is redacted, or the cache no longer holds those very weights."""
    if not run_dir.is_dir():
        raise OutputError(f"{run_dir}: no such run directory")
    check = check_files(run_dir)
    if not check.ok:
        raise OutputError(f"{run_dir}: does not match its manifest ({check.problem}); export only a run that verifies")
    document = load_document(run_dir)
    weights = audited_weights(run_dir)
    try:
        training = TrainingRecord.from_json(dict(document["training"]))
    except (TypeError, KeyError) as exc:
        raise OutputError(f"{run_dir / FINDINGS}: training: not a training record this fmaudit reads ({exc})") from exc
    if training.cache_key.startswith("hmac:"):
        raise OutputError(f"{run_dir}: a redacted run withholds its model cache key; export the unredacted run")
    directory = cache_dir / "models" / training.cache_key
    if not (directory / WEIGHTS_FILE).is_file() or not (directory / RECORD_FILE).is_file():
        raise OutputError(
            f"{run_dir}: the model cache no longer holds the audited model: no {directory} "
            f"(searched --cache-dir {cache_dir}); give the --cache-dir the run used, or run its spec again there"
        )
    if sha256_file(directory / WEIGHTS_FILE) != weights:
        raise OutputError(
            f"{directory / WEIGHTS_FILE}: holds other weights than run {document['provenance']['run_id']} audited "
            f"(its manifest records SHA-256 {weights[:12]}…)"
        )
    return AuditedModel(document, training, weights, directory)


def _check_target(dest: Path, run_dir: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise OutputError(f"{dest}: already exists and is not empty; give export a new or empty directory")
    if dest.resolve().is_relative_to(run_dir.resolve()):
        raise OutputError(f"{dest}: inside the run directory {run_dir}, it would no longer match its manifest")


def _write(model: AuditedModel, staging: Path, lora: LoraForm | None) -> Written:
    from fmaudit.models.text import ADAPTER_FILE

    adapted = (model.directory / ADAPTER_FILE).is_file()
    if lora is not None and not adapted:
        raise OutputError(f"--lora {lora}: the audited model has no LoRA adapter (it is exported whole)")
    if model.kind == "tabular":
        return _onnx(model, staging)
    if not adapted:
        return _huggingface(model, staging)
    return _adapter(model, staging) if lora == "adapter" else _merged(model, staging)


def _huggingface(model: AuditedModel, staging: Path) -> Written:
    """The cached directory as it is (save_pretrained's files), its weights byte for byte, made to score as
    audited (``fmaudit.models.hub``)."""
    from fmaudit.models.hub import finish_hub_directory
    from fmaudit.models.pooling import recorded_pooling

    source = _copy_cached(model, staging, leave_out=())
    finish_hub_directory(
        staging,
        favourable=model.favourable,
        max_length=model.max_length,
        pooling=recorded_pooling(model.training.pooling),
    )
    return Written("huggingface", WEIGHTS_FILE, source)


def _merged(model: AuditedModel, staging: Path) -> Written:
    """The adapter folded into its base (``merge_adapter``): one plain model, whose weights are derived."""
    from fmaudit.models.adapters import merge_adapter
    from fmaudit.models.hub import finish_hub_directory
    from fmaudit.models.pooling import recorded_pooling
    from fmaudit.models.text import ADAPTER_FILE, TextClassifier

    pooling = recorded_pooling(model.training.pooling)
    classifier = TextClassifier.load(model.directory, max_length=model.max_length, base=_base(model), pooling=pooling)
    merge_adapter(classifier.model)
    classifier.model.save_pretrained(staging, safe_serialization=True)
    classifier.tokenizer.save_pretrained(staging)
    finish_hub_directory(staging, favourable=model.favourable, max_length=model.max_length, pooling=pooling)
    return Written("lora-merged", None, [WEIGHTS_FILE, ADAPTER_FILE])


def _adapter(model: AuditedModel, staging: Path) -> Written:
    """The adapter and head as peft saves them, for ``PeftModel.from_pretrained`` on the base: the audited
    tensors unchanged, under peft's names (so the file's bytes, and its hash, differ from the cache's)."""
    from safetensors.torch import load_file, save_file

    from fmaudit.models.adapters import peft_adapter
    from fmaudit.models.hub import tokenize_as_audited
    from fmaudit.models.pooling import recorded_pooling
    from fmaudit.models.text import ADAPTER_FILE, load_pretrained
    from fmaudit.spec import AdapterSpec

    if recorded_pooling(model.training.pooling) == "mean":
        raise OutputError(
            "--lora adapter: the audited model mean-pools its token states, which a peft adapter on the plain "
            "base cannot carry; export --lora merged"
        )
    base, _ = load_pretrained(_base(model))
    adapter = AdapterSpec.model_validate_json((model.directory / ADAPTER_FILE).read_text(encoding="utf-8"))
    config, tensors = peft_adapter(base, adapter, load_file(model.directory / WEIGHTS_FILE))
    config.base_model_name_or_path = model.training.base_model
    config.save_pretrained(str(staging))
    save_file(tensors, staging / "adapter_model.safetensors")
    source = _copy_cached(model, staging, leave_out=(WEIGHTS_FILE, ADAPTER_FILE))
    tokenize_as_audited(staging, model.max_length)
    return Written("lora-adapter", None, [WEIGHTS_FILE, ADAPTER_FILE, *source])


def _onnx(model: AuditedModel, staging: Path) -> Written:
    """model.onnx over the encoded features, encoder.json (the column encoding) and the audited weights."""
    from fmaudit.models.tabular import TabularClassifier

    source = _copy_cached(model, staging, leave_out=())
    TabularClassifier.load(model.directory).to_onnx(staging / "model.onnx")
    return Written("onnx", WEIGHTS_FILE, source)


def _copy_cached(model: AuditedModel, staging: Path, *, leave_out: tuple[str, ...]) -> list[str]:
    """Copy the cached model's files (all but its training record and ``leave_out``); return their names."""
    names = sorted(p.name for p in model.directory.iterdir() if p.is_file() and p.name not in (RECORD_FILE, *leave_out))
    for name in names:
        shutil.copyfile(model.directory / name, staging / name)
    return names


def _base(model: AuditedModel) -> Path:
    """The base model an adapter was trained on, as it was: merging onto another base ships another model."""
    base = Path(model.training.base_model_dir)
    if not base.is_dir() or sha256_dir(base) != model.training.base_model_sha256:
        raise OutputError(
            f"{base}: the base model {model.training.base_model!r} the adapter was trained on is "
            f"{'no longer there' if not base.is_dir() else 'no longer as it was (its SHA-256 changed)'}"
        )
    return base


def _card(run_dir: Path, model: AuditedModel, written: Written) -> str:
    """The run's model card, with how to load this export after it."""
    shipped = run_dir / "model-card" / CARD_FILE
    if shipped.is_file():
        card = shipped.read_text(encoding="utf-8")
    else:
        from fmaudit.report.model_card import huggingface_card

        card = huggingface_card(model.document)
    return card.rstrip("\n") + "\n\n" + _usage(written.form, model) + "\n"


def _usage(form: Form, model: AuditedModel) -> str:
    """README.md's closing section: what this export is and how to load and check it."""
    run_id = model.document["provenance"]["run_id"]
    lines = ["## This export", ""]
    favourable = f"class 1 is the favourable decision ({model.favourable}): P(favourable) = softmax(logits)[:, 1]"
    if form == "onnx":
        lines += [
            "`model.onnx` scores encoded features: input `features` (rows x features, float32), output "
            "`probabilities`, whose column 1 is P(favourable). `encoder.json` is the column encoding, fitted on the "
            "training split: columns in order; numeric ones standardised, `(x - mean) / scale` (missing: the "
            "mean); categorical ones one-hot over `categories` (missing or unseen: all zeros). "
            f"`{WEIGHTS_FILE}` holds the audited MLP's weights.",
        ]
    elif form == "lora-adapter":
        lines += [
            f"A peft LoRA adapter (and classifier head) for the base model `{model.training.base_model}` "
            f"(SHA-256 of its files `{model.training.base_model_sha256}`): "
            "`PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(BASE, num_labels=2), "
            f"THIS_DIRECTORY)`; {favourable}.",
        ]
    else:
        from fmaudit.models.pooling import recorded_pooling

        remote = ", trust_remote_code=True" if recorded_pooling(model.training.pooling) == "mean" else ""
        merged = (
            f"The audited LoRA adapter merged into its base model `{model.training.base_model}`: its weights are "
            "derived, so they do not hash to the audited weights; `export.json` records the audited ones. "
            if form == "lora-merged"
            else ""
        )
        lines += [
            f"{merged}`AutoModelForSequenceClassification.from_pretrained(THIS_DIRECTORY{remote})`; tokenise with "
            f"`truncation=True` (the audit truncated at {model.max_length} tokens); {favourable}.",
        ]
    lines += [
        "",
        f"Audit run `{run_id}`. `fmaudit verify RUN_DIR --model THIS_DIRECTORY` checks that these files are the "
        "ones exported from the audited model (`export.json` lists their SHA-256).",
    ]
    return "\n".join(lines)
