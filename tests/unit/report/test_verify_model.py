"""``fmaudit verify RUN_DIR --model DIR``: an exported model checked against its export.json and that against the
run's manifest; a bare Hugging Face directory by its weights alone. Exit 1 names the file that differs."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from fmaudit.cli import main
from fmaudit.core.errors import ExitCode
from fmaudit.core.provenance import sha256_file
from fmaudit.engine.export import export_run
from fmaudit.report.export_record import EXPORT_FILE
from tests.support.exports import CachedRun, cached_run, random_mlp


def verify(run: CachedRun, model: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["verify", str(run.run_dir), "--model", str(model)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> CachedRun:
    return cached_run(tmp_path_factory.mktemp("run"), random_mlp, model={"kind": "tabular", "hidden": [8]}, training={})


@pytest.fixture(scope="module")
def exported(run: CachedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("exported") / "model"
    export_run(run.run_dir, dest, cache_dir=run.cache_dir)
    return dest


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported, tmp_path / "model"))


def flip_a_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))


def test_an_exported_model_verifies_against_the_run(run: CachedRun, exported: Path) -> None:
    code, out, _ = verify(run, exported)
    assert code == ExitCode.OK
    assert out.splitlines()[1] == "ok: 4 files match export.json; model.safetensors is the audited weights"


@pytest.mark.parametrize("name", ["model.safetensors", "model.onnx", "encoder.json"])
def test_one_flipped_byte_fails_naming_the_file(run: CachedRun, copy: Path, name: str) -> None:
    flip_a_byte(copy / name)
    code, out, _ = verify(run, copy)
    assert code == ExitCode.GATES_FAILED
    assert out.splitlines()[-1] == f"FAILED: {name}: content does not match its SHA-256 in export.json"


def test_weights_swapped_with_export_json_rewritten_to_match_still_fail(run: CachedRun, copy: Path) -> None:
    flip_a_byte(copy / "model.safetensors")
    record = json.loads((copy / EXPORT_FILE).read_text())
    record["files"]["model.safetensors"] = sha256_file(copy / "model.safetensors")
    (copy / EXPORT_FILE).write_text(json.dumps(record))
    code, out, _ = verify(run, copy)
    assert code == ExitCode.GATES_FAILED
    assert out.splitlines()[-1].startswith("FAILED: model.safetensors: does not hash to the audited weights (SHA-256")


def test_an_export_of_other_weights_or_with_an_added_file_fails(run: CachedRun, copy: Path) -> None:
    (copy / "notes.txt").write_text("added later")
    code, out, _ = verify(run, copy)
    assert code == ExitCode.GATES_FAILED
    assert out.splitlines()[-1] == "FAILED: notes.txt: present but not listed in export.json"
    record = json.loads((copy / EXPORT_FILE).read_text())
    (copy / EXPORT_FILE).write_text(json.dumps({**record, "weights_sha256": "0" * 64, "run_id": "other-run"}))
    code, out, _ = verify(run, copy)
    assert code == ExitCode.GATES_FAILED
    assert out.splitlines()[-1].startswith("FAILED: export.json: exported from weights 000000000000… of run other-run")


def test_a_bare_hugging_face_directory_is_checked_by_its_weights(
    run: CachedRun, exported: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    code, out, _ = verify(run, bare)
    assert code == ExitCode.GATES_FAILED and out.splitlines()[-1].startswith("FAILED: model.safetensors: missing")
    shutil.copyfile(exported / "model.safetensors", bare / "model.safetensors")
    code, out, _ = verify(run, bare)
    assert code == ExitCode.OK and "model.safetensors is the audited weights; no export.json" in out
    flip_a_byte(bare / "model.safetensors")
    code, out, _ = verify(run, bare)
    assert code == ExitCode.GATES_FAILED
    assert out.splitlines()[-1].startswith("FAILED: model.safetensors: does not hash to the audited weights")


def test_an_unreadable_export_record_or_no_model_directory_exits_2(run: CachedRun, copy: Path, tmp_path: Path) -> None:
    (copy / EXPORT_FILE).write_text('{"fmaudit_export": 1, "files": {"../x": "0"}}')
    code, _, err = verify(run, copy)
    assert code == ExitCode.INPUT_ERROR
    assert f"{copy / EXPORT_FILE}: files: '../x' is not a path inside the export directory" in err
    (copy / EXPORT_FILE).write_text("[]")
    code, _, err = verify(run, copy)
    assert code == ExitCode.INPUT_ERROR and "expected an object with the key 'files'; got an array" in err
    code, _, err = verify(run, tmp_path / "nowhere")
    assert code == ExitCode.INPUT_ERROR and f"{tmp_path / 'nowhere'}: no such model file or directory" in err


def test_the_run_is_checked_before_the_model(run: CachedRun, exported: Path, tmp_path: Path) -> None:
    edited = Path(shutil.copytree(run.run_dir, tmp_path / "run"))
    (edited / "findings.json").write_text((edited / "findings.json").read_text().replace('"tiny"', '"other"', 1))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["verify", str(edited), "--model", str(exported)])
    assert code == ExitCode.GATES_FAILED
    assert out.getvalue() == "FAILED: findings.json: content does not match its SHA-256 in the manifest\n"
