"""The run's outputs beyond report.html: re-rendering, JUnit XML, Markdown summary, model card, manifest and
signatures, redaction, and run diffs; all on a synthetic run (hand-made findings, real data, no training)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fmaudit.cli import main
from fmaudit.core.errors import ExitCode, SpecError
from fmaudit.engine.planning import plan
from fmaudit.report.diff import compare_runs
from fmaudit.report.document import load_document
from fmaudit.report.markdown import cell, headline_figures
from fmaudit.report.redact import row_hash, run_salt
from fmaudit.report.signing import public_key, sign, signature_matches, signing_key
from fmaudit.report.write import OutputOptions
from tests.support.paper import broken_header_words, overflowing_pages
from tests.support.synthetic_run import spec, write_synthetic_run

FAST_FORMATS = ("html", "md", "junit", "model-card")


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    assert cli("keygen", str(folder / "signer"))[0] == ExitCode.OK
    return folder / "signer", folder / "signer.pub"


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    options = OutputOptions(FAST_FORMATS, key=signing_key(keys[0]))
    return write_synthetic_run(tmp_path_factory.mktemp("signed"), options)


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    code, _, err = cli("keygen", str(private))
    assert code == ExitCode.INPUT_ERROR and "already exists" in err


def test_keygen_creates_missing_directories_and_leaves_nothing_behind_on_a_bad_path(tmp_path: Path) -> None:
    code, _, err = cli("keygen", str(tmp_path / "keys" / "signer"), "--public", str(tmp_path / "shared" / "signer.pub"))
    assert (code, err) == (ExitCode.OK, "")
    assert (tmp_path / "keys" / "signer").is_file() and (tmp_path / "shared" / "signer.pub").is_file()
    (tmp_path / "a-file").write_text("not a directory")
    code, _, err = cli("keygen", str(tmp_path / "fresh"), "--public", str(tmp_path / "a-file" / "signer.pub"))
    assert code == ExitCode.INPUT_ERROR and "cannot create its directory" in err and "Traceback" not in err
    assert not (tmp_path / "fresh").exists()
    # The rerun with a good --public writes the pair: it is not told that the private key already exists.
    code, _, err = cli("keygen", str(tmp_path / "fresh"), "--public", str(tmp_path / "new" / "dir" / "signer.pub"))
    assert (code, err) == (ExitCode.OK, "")
    key, public = signing_key(tmp_path / "fresh"), public_key(tmp_path / "new" / "dir" / "signer.pub")
    assert key is not None and signature_matches(public, b"manifest", sign(key, b"manifest"))


def test_keygen_checks_every_target_before_creating_anything(tmp_path: Path) -> None:
    (tmp_path / "taken.pub").write_text("someone's key")
    code, _, err = cli("keygen", str(tmp_path / "keys" / "signer"), "--public", str(tmp_path / "taken.pub"))
    assert code == ExitCode.INPUT_ERROR and f"{tmp_path / 'taken.pub'}: already exists" in err
    assert not (tmp_path / "keys").exists() and (tmp_path / "taken.pub").read_text() == "someone's key"
    code, _, err = cli("keygen", str(tmp_path / "k" / "signer"), "--public", str(tmp_path / "k" / "." / "signer"))
    assert code == ExitCode.INPUT_ERROR and "named as both the private and the public key" in err
    assert not (tmp_path / "k").exists()


def test_a_run_writes_the_requested_formats_a_manifest_and_a_signature(signed_run: Path) -> None:
    assert sorted(files_of(signed_run)) == [
        "findings.json",
        "junit.xml",
        "manifest.json",
        "manifest.sig",
        "model-card/README.md",
        "model-card/model-card.json",
        "predictions.csv",
        "report.html",
        "summary.md",
    ]
    manifest = json.loads((signed_run / "manifest.json").read_text())
    assert manifest["redacted"] is False and manifest["inputs"]["weights_sha256"] == "w" * 64
    assert set(manifest["files"]) == set(files_of(signed_run)) - {"manifest.json", "manifest.sig"}


def test_report_re_renders_the_formats_a_run_holds_byte_for_byte(
    signed_run: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    code, out, _ = cli("report", str(signed_run), "--out", str(tmp_path / "again"), "--sign-key", str(keys[0]))
    assert code == ExitCode.OK, out
    assert files_of(tmp_path / "again") == files_of(signed_run)


def test_report_in_place_adds_a_format_and_keeps_the_rest(signed_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    _, _, err = cli("report", str(signed_run), "--out", str(copy), "--format", "html")
    assert "is not signed: give --sign-key" in err  # the signed run's copy, written without a key
    before = files_of(copy)
    assert cli("report", str(copy), "--format", "junit")[0] == ExitCode.OK
    after = files_of(copy)
    assert after["junit.xml"] == files_of(signed_run)["junit.xml"]
    assert {k: v for k, v in after.items() if k not in ("junit.xml", "manifest.json")} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }
    assert cli("verify", str(copy))[0] == ExitCode.OK


def test_report_refuses_another_schema_version_with_exit_2(signed_run: Path, tmp_path: Path) -> None:
    document = json.loads((signed_run / "findings.json").read_text())
    document["fmaudit_report"] = 1
    (tmp_path / "findings.json").write_text(json.dumps(document))
    code, _, err = cli("report", str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == ExitCode.INPUT_ERROR
    assert "findings schema version 1; this fmaudit reads version 2" in err
    assert not (tmp_path / "out").exists()


def test_junit_has_one_case_per_gate_and_a_failure_with_interval_and_threshold(signed_run: Path) -> None:
    from junitparser import Failure, JUnitXml

    xml = JUnitXml.fromfile(str(signed_run / "junit.xml"))
    (suite,) = list(xml)
    assert (suite.name, suite.tests, suite.failures, suite.errors) == ("fmaudit.tiny", 2, 1, 0)
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["run_id"] == "20260101T000000Z-740" and properties["model_weights_sha256"] == "w" * 64
    cases = {case.name: case for case in suite}
    assert cases["performance.accuracy"].classname == "fmaudit.performance"
    assert cases["performance.accuracy"].is_passed
    failed = cases["fairness.sex.demographic_parity_ratio.ci_low"]
    (failure,) = [r for r in failed.result if isinstance(r, Failure)]
    assert failure.message == "observed 0.7000 [0.700, 0.990]; required >= 0.9"


def test_summary_md_is_short_and_goes_to_the_github_step_summary(
    signed_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = (signed_run / "summary.md").read_text()
    assert summary.startswith("## fmaudit: tiny — ❌ gates failed")
    assert "| `fairness.sex.demographic_parity_ratio.ci_low >= 0.9` | 0.7000 | [0.700, 0.990] | **FAIL** |" in summary
    assert "| Accuracy (`performance.accuracy`) | 0.740 | [0.690, 0.790] |" in summary
    assert "[report.html](report.html)" in summary and "report.pdf" not in summary
    assert len(summary.splitlines()) < 40
    assert cell("share | rate\nof rows") == "share \\| rate of rows"  # a label cannot break the table
    target = tmp_path / "step-summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    cli("report", str(signed_run), "--out", str(tmp_path / "out"), "--format", "html,md")
    assert target.read_text() == "earlier step\n" + summary + "\n"


def test_model_card_keeps_slices_and_intervals(signed_run: Path) -> None:
    from huggingface_hub import ModelCard

    text = (signed_run / "model-card" / "README.md").read_text()
    card = ModelCard(text)
    # The front matter holds the gated and headline figures only (every figure is in model-card.json): short.
    headlines = headline_figures(load_document(signed_run))
    assert [r.metric_args["path"] for r in card.data.eval_results] == [f.path for f in headlines if f.value is not None]
    assert len(text.split("\n---\n", 1)[0].splitlines()) < 40 * len(headlines)
    results = {r.metric_args["path"]: r for r in card.data.eval_results}
    ratio = results["fairness.sex.demographic_parity_ratio"]
    assert ratio.metric_config == "overall" and ratio.metric_args["ci_low"] is not None
    for heading in (
        "Intended use",
        "Training data",
        "Evaluation data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
    ):
        assert f"\n## {heading}\n" in card.text
    assert "(seeded split, seed 1)" in card.text  # the split's seed (the training seed is 0)
    toolkit = json.loads((signed_run / "model-card" / "model-card.json").read_text())
    metrics = toolkit["quantitative_analysis"]["performance_metrics"]
    assert {
        "type": "fairness.selection_rate",
        "value": "0.59",
        "slice": "sex: female",
        "confidence_interval": {"lower_bound": "0.49", "upper_bound": "0.69"},
    } in metrics


def test_verify_passes_on_the_run_and_with_its_key(signed_run: Path, keys: tuple[Path, Path]) -> None:
    code, out, _ = cli("verify", str(signed_run), "--key", str(keys[1]))
    assert code == ExitCode.OK and "signature valid" in out
    code, out, _ = cli("verify", str(signed_run))
    assert code == ExitCode.OK and "signature present but not checked" in out


@pytest.mark.parametrize("name", ["findings.json", "report.html", "model-card/model-card.json", "manifest.json"])
def test_verify_names_a_one_byte_edit(signed_run: Path, keys: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    run = tmp_path / "run"
    cli("report", str(signed_run), "--out", str(run), "--format", ",".join(FAST_FORMATS), "--sign-key", str(keys[0]))
    content = bytearray((run / name).read_bytes())
    content[len(content) // 2] ^= 1
    (run / name).write_bytes(bytes(content))
    code, out, _ = cli("verify", str(run), "--key", str(keys[1]))
    assert code == ExitCode.GATES_FAILED
    assert out.startswith("FAILED: manifest.sig" if name == "manifest.json" else f"FAILED: {name}: content")


def test_verify_detects_a_removed_file_an_added_file_and_a_wrong_key(
    signed_run: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    cli("report", str(signed_run), "--out", str(run), "--format", "html,md", "--sign-key", str(keys[0]))
    cli("keygen", str(tmp_path / "other"))
    code, out, _ = cli("verify", str(run), "--key", str(tmp_path / "other.pub"))
    assert code == ExitCode.GATES_FAILED and "manifest.sig: does not match" in out
    (run / "notes.txt").write_text("added later")
    code, out, _ = cli("verify", str(run))
    assert code == ExitCode.GATES_FAILED and out.startswith("FAILED: notes.txt: present but not listed")
    (run / "notes.txt").unlink()
    (run / "findings.json").unlink()  # a file the manifest lists is gone: the run does not match it (exit 1)
    code, out, _ = cli("verify", str(run))
    assert code == ExitCode.GATES_FAILED and out.startswith("FAILED: findings.json: listed in the manifest but missing")


def damaged(run: Path, tmp_path: Path, name: str, edit: Callable[[Any], Any]) -> Path:
    """A copy of ``run`` whose file ``name`` was rewritten: ``edit`` takes its parsed JSON (or None where the file
    is removed) and returns new content (bytes, text, or JSON to dump)."""
    copy = tmp_path / "damaged"
    shutil.copytree(run, copy)
    target = copy / name
    content = edit(json.loads(target.read_text()))
    if content is None:
        target.unlink()
    else:
        content = content if isinstance(content, bytes | str) else json.dumps(content)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return copy


def without(key: str, *path: str) -> Callable[[Any], Any]:
    def edit(document: Any) -> Any:
        node = document
        for part in path:
            node = node[part]
        del node[key]
        return document

    return edit


def replaced(value: Any, key: str, *path: str) -> Callable[[Any], Any]:
    def edit(document: Any) -> Any:
        node = document
        for part in path:
            node = node[part]
        node[key] = value
        return document

    return edit


def one_reason(err: str) -> str:
    """The reason of an input error: one line under 'fmaudit: <kind>:', never a traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    [kind, reason] = err.splitlines()
    assert kind == "fmaudit: OutputError:", err
    return reason.strip()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda _: None, "no such file (expected a run directory holding findings.json)"),
        (lambda _: '{"fmaudit_report": 2, "name": "trunc', "not valid JSON: "),
        (lambda _: b"\xff\xfe{}", "not valid JSON: 'utf-8' codec can't decode"),
        (lambda _: [], "expected a findings document (a JSON object); got an array"),
        (without("metrics"), "metrics: missing; expected an object"),
        (replaced(None, "provenance"), "provenance: expected an object; got null"),
        (without("run_id", "provenance"), "provenance.run_id: expected a string; got null"),
        (replaced(["performance.accuracy >= 0.5"], "gates"), "gates[0]: expected an object; got a string"),
        (replaced("accuracy is fine", "gate", "gates", 0), "gates[0].gate: expected '<metric path> <op> <number>'"),
        (without("passed", "gates", 1), "gates[1].passed: missing; expected a boolean"),
        (
            without("ci_low", "metrics", "performance", "accuracy"),
            "metrics.performance.accuracy.ci_low: missing; expected a number or null",
        ),
        (replaced("0.74", "value", "metrics", "performance", "accuracy"), "accuracy.value: expected a number or null"),
        (replaced(0.74, "roc_auc", "metrics", "performance"), "metrics.performance.roc_auc: expected a metric or"),
    ],
)
def test_diff_and_report_on_a_damaged_findings_json_exit_2_naming_the_file_and_key(
    signed_run: Path, tmp_path: Path, edit: Callable[[Any], Any], reason: str
) -> None:
    run = damaged(signed_run, tmp_path, "findings.json", edit)
    for args in (
        ["diff", str(signed_run), str(run)],
        ["diff", str(run), str(signed_run), "--format", "json"],
        ["report", str(run), "--out", str(tmp_path / "again")],
    ):
        code, out, err = cli(*args)
        assert (code, out) == (ExitCode.INPUT_ERROR, ""), args
        line = one_reason(err)
        assert line.startswith(f"{run / 'findings.json'}: ") and reason in line, line
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda _: None, "missing: nothing to check the run's files against"),
        (lambda _: '{"files": {"report.html": ', "not a manifest: not valid JSON"),
        (lambda _: ["findings.json"], "expected an object with the key 'files'; got an array"),
        (without("files"), "files: expected an object of file paths and their SHA-256; got no such key"),
        (
            replaced(["findings.json"], "files"),
            "files: expected an object of file paths and their SHA-256; got an array",
        ),
        (replaced("0" * 64, "../findings.json", "files"), "'../findings.json' is not a path inside the run directory"),
        (replaced("0" * 64, "/etc/hostname", "files"), "'/etc/hostname' is not a path inside the run directory"),
        (replaced(3, "findings.json", "files"), "files.findings.json: expected a SHA-256 in hex; got 3"),
    ],
)
def test_verify_on_a_missing_or_malformed_manifest_exits_2_naming_it(
    signed_run: Path, keys: tuple[Path, Path], tmp_path: Path, edit: Callable[[Any], Any], reason: str
) -> None:
    run = damaged(signed_run, tmp_path, "manifest.json", edit)
    code, out, err = cli("verify", str(run))
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    line = one_reason(err)
    assert line.startswith(f"{run / 'manifest.json'}: ") and reason in line, line
    # Under the key a rewritten manifest fails its signature (exit 1); a removed one cannot be checked (exit 2).
    code, out, err = cli("verify", str(run), "--key", str(keys[1]))
    if (run / "manifest.json").exists():
        assert code == ExitCode.GATES_FAILED and out.startswith("FAILED: manifest.sig: does not match manifest.json")
    else:
        assert code == ExitCode.INPUT_ERROR and one_reason(err).startswith(f"{run / 'manifest.json'}: missing")


def test_redacted_outputs_hold_no_applicant_content_and_the_same_figures(signed_run: Path, tmp_path: Path) -> None:
    code, _, _ = cli(
        "report", str(signed_run), "--out", str(tmp_path / "redacted"), "--redact", "--format", ",".join(FAST_FORMATS)
    )
    assert code == ExitCode.OK
    full, redacted = load_document(signed_run), load_document(tmp_path / "redacted")
    assert redacted["metrics"] == full["metrics"] and redacted["gates"] == full["gates"]
    files = files_of(tmp_path / "redacted")
    assert "predictions.csv" not in files
    texts = [row[2] for row in full["sections"][1]["tables"][0]["rows"]] + [full["data"]["example_text"]]
    for name, content in files.items():
        for text in texts:
            assert text.encode() not in content, name
    table = redacted["sections"][1]["tables"][0]
    salt = run_salt((signed_run / "predictions.csv").read_bytes())
    assert table["rows"] == [[row_hash(row[1], salt)] for row in full["sections"][1]["tables"][0]["rows"]]
    assert "3 applicant-level rows withheld" in table["note"]
    assert redacted["sections"][1]["highlights"] == []
    assert json.loads(files["manifest.json"])["redacted"] is True
    assert b"Redacted report." in files["report.html"] and b"**redacted**" in files["summary.md"]
    assert cli("verify", str(tmp_path / "redacted"))[0] == ExitCode.OK
    # Hashes that are exact functions of the training rows are keyed with the run's salt, in every file.
    row_derived = [full["provenance"]["data_sha256"], full["training"]["rows_sha256"], full["training"]["cache_key"]]
    assert all(row_derived)
    for name, content in files.items():
        for digest in row_derived:
            assert digest.encode() not in content, (name, digest)
    expected = "hmac:" + hmac.new(salt, full["provenance"]["data_sha256"].encode(), hashlib.sha256).hexdigest()
    assert redacted["provenance"]["data_sha256"] == expected
    assert json.loads(files["manifest.json"])["inputs"]["data_sha256"] == expected


def test_redacting_in_place_is_refused(signed_run: Path) -> None:
    code, _, err = cli("report", str(signed_run), "--redact")
    assert code == ExitCode.INPUT_ERROR and "give --out" in err


def test_output_spec_accepts_a_directory_or_a_mapping() -> None:
    assert spec().output.dir == "reports" and spec().output.formats == ["html", "junit", "md"]
    chosen = spec(dir="out", formats=["pdf", "junit", "pdf"], redact=True).output
    assert (chosen.dir, chosen.formats, chosen.redact) == ("out", ["pdf", "junit"], True)
    assert spec(formats=["docx"]).output.formats == ["docx"]  # names are the registry's to judge, at plan time


def test_an_unknown_format_in_the_spec_fails_planning_with_the_nearest_name(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["output"] = {"formats": ["html", "docx", "junti"]}
    with pytest.raises(SpecError) as raised:
        plan(write_spec(spec_dict))
    assert [p.split(": ", 1)[1] for p in raised.value.problems] == [
        "output.formats: unknown format 'docx'; expected one of: html, pdf, pdf-full, md, junit, model-card",
        "output.formats: unknown format 'junti'; did you mean 'junit'? "
        "expected one of: html, pdf, pdf-full, md, junit, model-card",
    ]


def test_unknown_format_on_the_command_line_exits_2(signed_run: Path, tmp_path: Path) -> None:
    code, _, err = cli("report", str(signed_run), "--out", str(tmp_path / "x"), "--format", "html,docx")
    assert code == ExitCode.INPUT_ERROR and "unknown format 'docx'" in err


def test_diff_flags_changes_beyond_their_intervals_and_gate_flips(tmp_path: Path) -> None:
    options = OutputOptions(("md",))
    baseline = write_synthetic_run(tmp_path / "a", options, accuracy=0.74)
    close = write_synthetic_run(tmp_path / "b", options, accuracy=0.72)
    worse = write_synthetic_run(tmp_path / "c", options, accuracy=0.45)
    small = compare_runs(load_document(baseline), load_document(close))
    (accuracy,) = [c for c in small.changes if c.path == "performance.accuracy"]
    assert accuracy.direction == "worse" and not accuracy.real and accuracy.basis == "intervals"
    assert small.regressions == () and small.flipped_gates == ()
    big = compare_runs(load_document(baseline), load_document(worse))
    assert [c.path for c in big.regressions] == ["performance.accuracy"]
    assert [(f.gate, f.passed_a, f.passed_b) for f in big.flipped_gates] == [
        ("performance.accuracy >= 0.5", True, False)
    ]
    assert cli("diff", str(baseline), str(worse))[0] == ExitCode.OK
    code, out, _ = cli("diff", str(baseline), str(worse), "--fail-on-regression", "--format", "md")
    assert code == ExitCode.GATES_FAILED and "| `performance.accuracy` |" in out and "REAL worse (gated)" in out
    payload = json.loads(cli("diff", str(baseline), str(worse), "--format", "json")[1])
    assert payload["regressions"] == ["performance.accuracy"] and payload["added"] == []


def test_diff_uses_the_tolerance_for_figures_without_intervals() -> None:
    def document(ece: float) -> dict:  # type: ignore[type-arg]
        metric = {"value": ece, "ci_low": None, "ci_high": None, "better": "lower", "label": "ECE"}
        return {
            "name": "x",
            "role": "audited",
            "provenance": {"run_id": "r"},
            "gates": [],
            "metrics": {"performance": {"ece": metric}},
        }

    assert compare_runs(document(0.05), document(0.055)).real_changes == ()
    (change,) = compare_runs(document(0.05), document(0.08)).real_changes
    assert (change.basis, change.direction) == ("tolerance", "worse")
    assert compare_runs(document(0.05), document(0.08), tolerance=0.05).real_changes == ()


def test_diff_compares_two_candidate_models_on_the_figures_they_share() -> None:
    def document(name: str, **figures: float) -> dict:  # type: ignore[type-arg]
        def metric(value: float) -> dict:  # type: ignore[type-arg]
            return {"value": value, "ci_low": None, "ci_high": None, "better": "higher", "label": "x"}

        return {
            "name": name,
            "role": "audited",
            "provenance": {"run_id": name},
            "gates": [],
            "metrics": {"performance": {key: metric(value) for key, value in figures.items()}},
        }

    tabular, text = document("lender-tabular", roc_auc=0.70, f1=0.6), document("lender-text", roc_auc=0.75, ece=0.1)
    diff = compare_runs(tabular, text)
    assert diff.name == "lender-tabular vs lender-text"
    assert [(c.path, c.direction, c.real) for c in diff.changes] == [("performance.roc_auc", "better", True)]
    assert (diff.added, diff.removed) == (("performance.ece",), ("performance.f1",))


def pdf_pages(content: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", content))


def test_pdf_prints_every_section_reproducibly_and_fetches_nothing(signed_run: Path, tmp_path: Path) -> None:
    from fmaudit.report import pdf

    document = load_document(signed_run)
    first, second = pdf.render_pdf(document), pdf.render_pdf(document)
    assert first.startswith(b"%PDF") and first == second  # no render timestamp
    pages = pdf.laid_out(document).pages
    assert len(pages) == 5  # verdict, model and data; a page per section; provenance and the resolved spec (2)
    assert (round(pages[0].width), round(pages[0].height)) == (794, 1123)  # A4 at 96 px per inch
    assert overflowing_pages(document) == []  # a 10-column table and a long metric path wrap on paper
    assert broken_header_words(document) == []  # headers wrap between words, never inside one
    with pytest.raises(ValueError, match="fetches nothing"):
        pdf._no_fetch("http://example.org/font.woff")


def test_the_pdf_format_is_the_summary_and_pdf_full_the_whole_report(signed_run: Path) -> None:
    from fmaudit.report import pdf
    from fmaudit.report.formats import BUILTINS, RenderOptions
    from fmaudit.report.html import render_html

    document = load_document(signed_run)
    assert set(BUILTINS["pdf"].render(document, RenderOptions())) == {"report.pdf"}
    assert set(BUILTINS["pdf-full"].render(document, RenderOptions())) == {"report-full.pdf"}
    summary, full = render_html(document, printing=True, profile="summary"), render_html(document, printing=True)
    assert "Headline figures of this section" in summary and "Headline figures of this section" not in full
    assert "metrics of this section (paths usable in gates)" in full and "paths usable in gates" not in summary
    gated = [gate["gate"].split()[0] for gate in document["gates"]]
    assert gated and all(path.removesuffix(".ci_low").removesuffix(".ci_high") in summary for path in gated)
    assert "Resolved spec" not in summary and "every table, chart, note and metric" in summary.lower()
    assert '<body class="summary-profile">' in summary and "<body>" in full  # sections flow, not a page each
    assert '<th class="n">' in full  # number columns' headers sit over their numbers
    assert len(pdf.laid_out(document, profile="summary").pages) < len(pdf.laid_out(document).pages)
    assert overflowing_pages(document) == []


def test_number_columns_have_their_headers_over_the_numbers() -> None:
    from fmaudit.report.html import numeric_columns

    table = {"columns": ["group", "rows", "rate", "note"], "rows": [["a", 3, {"value": 0.5}, ""], ["b", 4, None, "x"]]}
    assert numeric_columns(table) == {1, 2}
    assert numeric_columns({"columns": ["a"], "rows": []}) == set()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (apt-get install chromium)")
def test_pdf_engine_chromium_prints_the_same_report(signed_run: Path) -> None:
    from fmaudit.report import pdf

    content = pdf.render_pdf(load_document(signed_run), engine="chromium")
    assert content.startswith(b"%PDF") and 3 <= pdf_pages(content) <= 8


def test_a_run_written_redacted_equals_the_redacted_re_render_of_its_full_run(signed_run: Path, tmp_path: Path) -> None:
    direct = write_synthetic_run(tmp_path / "direct", OutputOptions(FAST_FORMATS, redact=True))
    cli("report", str(signed_run), "--out", str(tmp_path / "later"), "--redact", "--format", ",".join(FAST_FORMATS))
    assert files_of(direct) == files_of(tmp_path / "later")


def test_the_signing_key_comes_from_the_environment_as_a_path_or_pem_text(
    keys: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fmaudit.core.errors import OutputError

    monkeypatch.delenv("FMAUDIT_SIGNING_KEY", raising=False)
    assert signing_key(None) is None
    monkeypatch.setenv("FMAUDIT_SIGNING_KEY", str(keys[0]))
    from_path = signing_key(None)
    monkeypatch.setenv("FMAUDIT_SIGNING_KEY", keys[0].read_text())
    from_text = signing_key(None)
    assert from_path is not None and from_text is not None
    assert from_path.sign(b"m") == from_text.sign(b"m")  # the same key (Ed25519 signatures are deterministic)
    monkeypatch.setenv("FMAUDIT_SIGNING_KEY", str(keys[1]))
    with pytest.raises(OutputError, match="not an unencrypted PEM private key"):
        signing_key(None)
