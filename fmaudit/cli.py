"""Command line: ``fmaudit run``, ``validate``, ``plugins``, ``formats``, ``report``, ``diff``, ``export``,
``monitor``, ``verify``, ``keygen``.

Exit codes (a pre-deploy gate for CI): 0 all gates pass, 1 a gate failed,
2 invalid spec, data or model, 3 internal error.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from fmaudit import __version__
from fmaudit.core.errors import ExitCode, FmauditError, SpecError

if TYPE_CHECKING:
    from fmaudit.core.executor import Executor
    from fmaudit.report.write import OutputOptions
    from fmaudit.spec import Spec

EPILOG = "exit codes: 0 all gates pass, 1 a gate failed, 2 invalid spec/data/model, 3 internal error"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmaudit",
        description="Fine-tune a model from an audit spec, audit it (performance, fairness, explanations, "
        "robustness, privacy, behaviour), write an HTML + JSON report, and gate the exit code on declared thresholds.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"fmaudit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run an audit and write its report",
        description="Validate SPEC, fine-tune (or load the cached model), run the audit plugins, check the gates, "
        "and write reports/<name>/<run id>/{report.html,findings.json,predictions.csv}. With several specs, "
        "audit each (concurrently on Ray) and print one verdict table; the exit code is the worst.",
        epilog=EPILOG,
    )
    run.add_argument("spec", type=Path, nargs="+", help="audit spec(s) (YAML)")
    run.add_argument("--out", type=Path, help="output directory (overrides the spec's 'output'; default ./reports)")
    run.add_argument(
        "--cache-dir",
        type=Path,
        help="where fine-tuned models are cached (default $FMAUDIT_CACHE_DIR or ~/.cache/fmaudit)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress output; print only the gate table")
    run.add_argument(
        "--progress",
        choices=("auto", "bar", "plain", "none"),
        default="auto",
        help="how long work shows on stderr: bar (progress bars and one line per stage), plain (the lines only), "
        "none; auto (default): bar on a terminal, plain otherwise, so CI logs keep no bars",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default=os.environ.get("FMAUDIT_EXECUTOR") or "local",
        help="where training jobs, attacks and several specs run: this machine, or Ray (pip install "
        "'fmaudit[ray]') (default $FMAUDIT_EXECUTOR or local)",
    )
    run.add_argument(
        "--ray-address",
        default=os.environ.get("FMAUDIT_RAY_ADDRESS"),
        help="an existing Ray cluster (host:port or ray://host:port); default $FMAUDIT_RAY_ADDRESS, else a local "
        "Ray started for this run. Workers must see the spec, its data and --cache-dir at the same paths",
    )
    _output_arguments(run, default="the spec's output.formats (default html,junit,md)")
    run.add_argument(
        "--mlflow-uri",
        help="also log the run to this MLflow tracking URI (pip install 'fmaudit[mlflow]'), over the spec's "
        "output.mlflow.tracking_uri; a file store (file:DIR, relative to the working directory) needs "
        "MLFLOW_ALLOW_FILE_STORE=true; the experiment is output.mlflow.experiment, else the spec's name",
    )

    validate = commands.add_parser(
        "validate",
        help="check a spec, its data and its gates without training",
        description="Check SPEC fully: keys and types, data file and columns, label classes, plugins and their "
        "parameters, and that every gate names a metric the enabled plugins produce. Trains nothing.",
        epilog="exit codes: 0 valid, 2 invalid",
    )
    validate.add_argument("spec", type=Path, help="audit spec (YAML)")

    plugins = commands.add_parser(
        "plugins",
        help="list registered plugins and the metric paths each produces",
        description="List built-in and installed plugins (entry-point group 'fmaudit.plugins') with their metric "
        "paths. With SPEC, paths are resolved for that spec's attributes and groups; without, <placeholders> show.",
    )
    plugins.add_argument("spec", type=Path, nargs="?", help="optional spec to resolve paths for")

    commands.add_parser(
        "formats",
        help="list registered output formats and the files each writes",
        description="List built-in and installed output formats (entry-point group 'fmaudit.formats'): the names "
        "--format and output.formats accept, and the files each writes into a run directory.",
    )

    report = commands.add_parser(
        "report",
        help="re-render a run's outputs from its findings.json",
        description="Render RUN_DIR's findings.json again (no training, no auditing) into the requested formats, "
        "then rewrite manifest.json (and manifest.sig with a key). Without --out the files are replaced in RUN_DIR.",
        epilog="exit codes: 0 written, 2 unreadable run directory or another findings schema version",
    )
    report.add_argument("run_dir", type=Path, help="a run's report directory (holding findings.json)")
    report.add_argument("--out", type=Path, help="write into this new directory instead of RUN_DIR")
    _output_arguments(report, default="the formats RUN_DIR holds, else html,junit,md")

    diff = commands.add_parser(
        "diff",
        help="compare two runs: of one spec, or two candidate models on the figures they share",
        description="Every shared metric side by side with its change and direction; a change is real when the "
        "two intervals do not overlap (or, without intervals, beyond --tolerance). Gates that flipped, paths "
        "added or removed.",
        epilog="exit codes: 0 compared, 1 a gated figure got worse (with --fail-on-regression), 2 unreadable runs",
    )
    diff.add_argument("run_a", type=Path, help="the baseline run directory (e.g. the last approved model)")
    diff.add_argument("run_b", type=Path, help="the candidate run directory")
    diff.add_argument("--format", choices=("table", "md", "json"), default="table", dest="diff_format")
    diff.add_argument("--tolerance", type=float, default=0.01, help="real change for figures without intervals")
    diff.add_argument("--all", action="store_true", help="list unchanged figures too (table and md)")
    diff.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a gated figure got worse")

    export = commands.add_parser(
        "export",
        help="write the audited model as a deployable artifact",
        description="Take RUN_DIR's audited model from the model cache and write it into DEST: a Hugging Face "
        "directory (model.safetensors as audited, config, tokenizer, the run's model card as README.md) for a text "
        "model; a merged model or a peft adapter directory for a LoRA model; model.onnx, encoder.json (the column "
        "encoding) and model.safetensors for the tabular MLP. export.json records the run, the audited weights' "
        "SHA-256 and every file's; 'fmaudit verify RUN_DIR --model DEST' checks them.",
        epilog="exit codes: 0 written, 2 unusable input (a run that does not match its manifest, a model the cache "
        "no longer holds, DEST exists and is not empty); nothing is written on failure",
    )
    export.add_argument("run_dir", type=Path, help="a run's report directory (holding findings.json)")
    export.add_argument("dest", type=Path, help="where the model goes: a new (or empty) directory")
    export.add_argument(
        "--cache-dir",
        type=Path,
        help="the model cache the run used (default $FMAUDIT_CACHE_DIR or ~/.cache/fmaudit)",
    )
    export.add_argument(
        "--lora",
        choices=("merged", "adapter"),
        help="a LoRA model: merged into its base as one plain model (default), or a peft adapter directory to "
        "load on the base; either way its weights are derived and do not hash to the audited ones: export.json "
        "records the audited hash beside theirs",
    )

    monitor = commands.add_parser(
        "monitor",
        help="score the audited model on new data and report its drift against the run",
        description="Score CURRENT_DATA (a CSV or Parquet file with the run's columns; the label column optional) "
        "with RUN_DIR's audited model, from the model cache or --model, and compare it with the run's test split: "
        "the score's and each field's PSI, performance and calibration (with labels), selection rate by group and "
        "the demographic parity ratio, each with an interval and the change against the run. Gates: --gate, else "
        "the run's spec's monitor.gates, else every PSI's lower bound at most 0.25. Writes the run's report "
        "formats into OUT/<monitor id>/ (docs/monitoring.md).",
        epilog="exit codes: 0 every gate passes, 1 a gate failed (a shift), 2 unusable input (a run that does not "
        "verify or whose model or data is gone, a current file with missing or extra columns, text where the run "
        "had numbers, no rows, an unknown gate path), 3 internal error",
    )
    monitor.add_argument("run_dir", type=Path, help="the audited run's report directory (holding findings.json)")
    monitor.add_argument("current", type=Path, help="the current rows: a CSV or Parquet file with the run's columns")
    monitor.add_argument(
        "--cache-dir", type=Path, help="the model cache the run used (default $FMAUDIT_CACHE_DIR or ~/.cache/fmaudit)"
    )
    monitor.add_argument(
        "--model", type=Path, help="score with this 'fmaudit export' directory of the audited model (onnx or "
        "huggingface form), checked against the run, instead of the cache"
    )
    monitor.add_argument(
        "--gate", action="append", dest="gates", metavar="GATE",
        help="a gate on a monitor figure, e.g. 'monitor.score.psi.ci_low <= 0.1' (repeatable; replaces the spec's)",
    )
    monitor.add_argument("--out", type=Path, help="where the report goes (default RUN_DIR/../monitor)")
    monitor.add_argument("--quiet", action="store_true", help="no progress output; print only the gate table")
    _output_arguments(monitor, default="the run's formats")

    verify = commands.add_parser(
        "verify",
        help="check a run's files against its manifest (and signature), and a model against the run",
        description="Check every file of RUN_DIR against manifest.json's SHA-256 and, with --key, manifest.sig's "
        "Ed25519 signature; name the first file that does not match. With --model, then check that a deployment "
        "artifact is the audited model: its files against its export.json and that against the manifest's weights "
        "(a bare Hugging Face directory: its model.safetensors against them).",
        epilog="exit codes: 0 verified, 1 a file, the signature or the model does not match, 2 unreadable input (no "
        "run or model directory, a missing or malformed manifest.json or export.json, an unusable key)",
    )
    verify.add_argument("run_dir", type=Path)
    verify.add_argument("--key", type=Path, help="the signer's public key (PEM), from 'fmaudit keygen'")
    verify.add_argument(
        "--model", type=Path, help="the deployed model to check: an 'fmaudit export' directory, or the file or "
        "directory of a model trained elsewhere (model.source)"
    )

    keygen = commands.add_parser("keygen", help="write an Ed25519 key pair for signing reports")
    keygen.add_argument("private_key", type=Path, help="where the private key goes (created mode 0600)")
    keygen.add_argument("--public", type=Path, help="where the public key goes (default PRIVATE_KEY.pub)")
    return parser


def _output_arguments(parser: argparse.ArgumentParser, *, default: str) -> None:
    from fmaudit.report.formats import PDF_ENGINES, available_formats

    names = ",".join(available_formats())
    parser.add_argument("--format", dest="formats", help=f"comma-separated: {names} or all (default {default})")
    parser.add_argument(
        "--redact",
        action="store_true",
        default=None,
        help="write every format without applicant-level content; predictions.csv withheld",
    )
    parser.add_argument(
        "--sign-key",
        type=Path,
        help="Ed25519 private key (PEM) to sign manifest.json with (default $FMAUDIT_SIGNING_KEY)",
    )
    parser.add_argument(
        "--pdf-engine",
        choices=PDF_ENGINES,
        default="weasyprint",
        help="what renders report.pdf from report.html: weasyprint (default, pure Python) or chromium (headless, "
        "if installed)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args.spec)
        if args.command == "report":
            return _report(args)
        if args.command == "diff":
            return _diff(args)
        if args.command == "export":
            return _export(args)
        if args.command == "monitor":
            return _monitor(args)
        if args.command == "verify":
            return _verify(args.run_dir, args.key, args.model)
        if args.command == "keygen":
            return _keygen(args.private_key, args.public)
        if args.command == "formats":
            return _formats()
        return _plugins(args.spec)
    except SpecError as exc:
        _error("invalid spec", exc.problems)
        return exc.exit_code
    except FmauditError as exc:
        _error(type(exc).__name__, str(exc).splitlines())
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted", ["no report was written"])
        return ExitCode.INTERNAL_ERROR
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception:  # a bug, not bad input: exit 3, never the gate-failure code 1
        _error("internal error (please report it)", traceback.format_exc().splitlines())
        return ExitCode.INTERNAL_ERROR


def _error(kind: str, lines: list[str]) -> None:
    print(f"fmaudit: {kind}:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from fmaudit.core.executor import executor_from

    executor = executor_from(args.executor, args.ray_address)
    try:
        return _run_one(args, args.spec[0], executor) if len(args.spec) == 1 else _run_many(args, executor)
    finally:
        executor.shutdown()


def _run_many(args: argparse.Namespace, executor: Executor) -> int:
    from fmaudit.engine.batch import SpecRun, audit_specs, verdict_table, worst_exit_code

    runs = [
        SpecRun(
            spec=spec,
            out=args.out,
            cache_dir=args.cache_dir,
            command=_command(),
            quiet=args.quiet,
            options_for=functools.partial(_spec_output_options, args),
            executor=executor.name,
        )
        for spec in args.spec
    ]
    verdicts = audit_specs(runs, executor)
    print(verdict_table(verdicts))
    return worst_exit_code(verdicts)


def _spec_output_options(args: argparse.Namespace, spec: Spec) -> OutputOptions:
    from fmaudit.report.mlflow_log import resolve_uri

    options = _output_options(args, formats=tuple(spec.output.formats), redact=spec.output.redact)
    return replace(options, mlflow_uri=resolve_uri(args.mlflow_uri, Path.cwd()) if args.mlflow_uri else None)


def _command() -> str:
    return shlex.join(["fmaudit", *sys.argv[1:]]) if sys.argv[1:] else "fmaudit run"


def _run_one(args: argparse.Namespace, spec_path: Path, executor: Executor) -> int:
    from fmaudit.engine.pipeline import run
    from fmaudit.spec import load_spec

    options = _spec_output_options(args, load_spec(spec_path).spec)

    mode = progress_mode(args.progress, quiet=args.quiet, terminal=sys.stderr.isatty())

    def progress(message: str) -> None:
        if mode != "none":
            print(f"fmaudit: {message}", file=sys.stderr, flush=True)

    result = run(
        spec_path,
        out=args.out,
        cache_dir=args.cache_dir,
        command=_command(),
        progress=progress,
        show_progress_bars=mode == "bar",
        options=options,
        executor=executor,
    )
    print(gate_table(result.gate_results))
    shown = result.report_dir / "report.html" if "html" in options.formats else result.report_dir
    print(f"report: {shown}" + (" (redacted)" if options.redact else ""))
    _step_summary(result.report_dir)
    return result.exit_code


def progress_mode(chosen: str, *, quiet: bool, terminal: bool) -> str:
    """``bar``, ``plain`` or ``none``: ``--quiet`` wins, and ``auto`` draws bars only on a terminal."""
    if quiet:
        return "none"
    if chosen == "auto":
        return "bar" if terminal else "plain"
    return chosen


def _output_options(args: argparse.Namespace, *, formats: tuple[str, ...], redact: bool) -> OutputOptions:
    """OutputOptions from --format/--redact/--sign-key/--pdf-engine over the given defaults."""
    from fmaudit.report.formats import parse_formats
    from fmaudit.report.signing import signing_key
    from fmaudit.report.write import OutputOptions

    return OutputOptions(
        formats=parse_formats(args.formats) if args.formats else formats,
        redact=redact if args.redact is None else args.redact,
        key=signing_key(args.sign_key),
        pdf_engine=args.pdf_engine,
    )


def _step_summary(report_dir: Path) -> None:
    """Append summary.md to the GitHub Actions job summary when running there."""
    target, summary = os.environ.get("GITHUB_STEP_SUMMARY"), report_dir / "summary.md"
    if target and summary.is_file():
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(summary.read_text(encoding="utf-8") + "\n")


def _report(args: argparse.Namespace) -> int:
    from fmaudit.report.formats import formats_in
    from fmaudit.report.write import rerender
    from fmaudit.spec import DEFAULT_FORMATS

    options = _output_options(args, formats=formats_in(args.run_dir) or DEFAULT_FORMATS, redact=False)
    was_signed = (args.run_dir / "manifest.sig").is_file()
    target = rerender(args.run_dir, args.out, options)
    if was_signed and options.key is None:
        print(f"fmaudit: {target} is not signed: give --sign-key to sign its new manifest", file=sys.stderr)
    timings = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in options.timings.items())
    print(f"report: {target} ({timings})" + (" (redacted)" if options.redact else ""))
    _step_summary(target)
    return ExitCode.OK


def _diff(args: argparse.Namespace) -> int:
    from fmaudit.report.diff import compare_runs, diff_json, diff_markdown, diff_table
    from fmaudit.report.document import load_document

    result = compare_runs(load_document(args.run_a), load_document(args.run_b), tolerance=args.tolerance)
    if args.diff_format == "json":
        print(diff_json(result))
    else:
        print((diff_markdown if args.diff_format == "md" else diff_table)(result, everything=args.all))
    return ExitCode.GATES_FAILED if args.fail_on_regression and result.regressions else ExitCode.OK


def _export(args: argparse.Namespace) -> int:
    from fmaudit.engine.export import export_run

    record = export_run(args.run_dir, args.dest, cache_dir=args.cache_dir, lora=args.lora)
    same = f"{record.weights_file} is the audited weights" if record.weights_file else "weights derived from them"
    print(f"exported: {args.dest} ({record.form}, {len(record.files)} files + export.json; {same})")
    return ExitCode.OK


def _monitor(args: argparse.Namespace) -> int:
    from fmaudit.engine.monitor import monitor

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"fmaudit: {message}", file=sys.stderr, flush=True)

    options = _output_options(args, formats=(), redact=False)  # no --format: the run's formats
    result = monitor(
        args.run_dir,
        args.current,
        out=args.out,
        cache_dir=args.cache_dir,
        model_dir=args.model,
        gates=args.gates,
        options=options,
        command=_command(),
        progress=progress,
    )
    print(gate_table(result.gate_results))
    html = result.report_dir / "report.html"
    print(f"report: {html if html.is_file() else result.report_dir}" + (" (redacted)" if options.redact else ""))
    _step_summary(result.report_dir)
    return result.exit_code


def _verify(run_dir: Path, key: Path | None, model: Path | None) -> int:
    from fmaudit.report.verify import verify_model, verify_run

    outcome = verify_run(run_dir, key)
    print(outcome.message)
    if outcome.ok and model is not None:
        outcome = verify_model(run_dir, model)
        print(outcome.message)
    return ExitCode.OK if outcome.ok else ExitCode.GATES_FAILED


def _keygen(private_key: Path, public: Path | None) -> int:
    from fmaudit.report.signing import generate_keypair

    public = public or private_key.with_name(private_key.name + ".pub")
    generate_keypair(private_key, public)
    print(f"private key: {private_key} (keep it secret; pass it as --sign-key or $FMAUDIT_SIGNING_KEY)")
    print(f"public key:  {public} (give it to whoever verifies: fmaudit verify RUN_DIR --key {public})")
    return ExitCode.OK


def gate_table(results: list) -> str:  # type: ignore[type-arg]
    """The gate verdict as a plain-text table for the console."""
    if not results:
        return "gates: none declared"
    width = max(len(r.gate.text) for r in results)
    lines = [f"{'gate':<{width}}  {'observed':>10}  result", "-" * (width + 22)]
    for r in results:
        observed = "n/a" if r.observed is None else f"{r.observed:.4g}"
        verdict = "pass" if r.passed else f"FAIL{(' (' + r.reason + ')') if r.reason else ''}"
        lines.append(f"{r.gate.text:<{width}}  {observed:>10}  {verdict}")
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def _validate(spec: Path) -> int:
    from fmaudit.engine.pipeline import plan
    from fmaudit.report.mlflow_log import mlflow_target

    the_plan = plan(spec)
    mlflow_target(the_plan.loaded)  # output.mlflow: the package installed, a file store allowed
    data = the_plan.data
    print(
        f"{spec}: valid — {data.n_rows} rows, {len(the_plan.plugins)} plugins "
        f"({', '.join(the_plan.plugins)}), {len(the_plan.gates)} gates"
    )
    return ExitCode.OK


def _formats() -> int:
    from fmaudit.report.formats import available_formats

    for name, output_format in available_formats().items():
        print(f"{name}  ({output_format.description}): {', '.join(output_format.files)}")
    return ExitCode.OK


def _plugins(spec: Path | None) -> int:
    from fmaudit.plugins.base import AuditPlan
    from fmaudit.plugins.registry import available_plugins, lookup_plugin

    if spec is not None:
        from fmaudit.engine.pipeline import plan

        the_plan = plan(spec)
        for name, paths in the_plan.metric_paths.items():
            print(f"{name}  ({the_plan.plugins[name].title})")
            for path in paths:
                print(f"    {path}")
        if the_plan.loaded.spec.training.seed_replicas:
            print("every path above also ends in .replica_min / .replica_max: its spread over training.seed_replicas")
        return ExitCode.OK
    for name, target in available_plugins().items():
        plugin = lookup_plugin(name)
        print(f"{name}  ({plugin.title}; {target})")
        for path in plugin.metric_paths(plugin.Params(), AuditPlan.placeholder()):
            print(f"    {path}")
    return ExitCode.OK
