"""Command line: ``fmaudit run``, ``fmaudit validate``, ``fmaudit plugins``.

Exit codes (a pre-deploy gate for CI): 0 all gates pass, 1 a gate failed,
2 invalid spec, data or model, 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from pathlib import Path

from fmaudit import __version__
from fmaudit.errors import ExitCode, FmauditError, SpecError

EPILOG = "exit codes: 0 all gates pass, 1 a gate failed, 2 invalid spec/data/model, 3 internal error"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmaudit",
        description="Fine-tune a model from an audit spec, audit it (performance, fairness, explanations, "
        "robustness, privacy), write an HTML + JSON report, and gate the exit code on declared thresholds.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"fmaudit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run an audit and write its report",
        description="Validate SPEC, fine-tune (or load the cached model), run the audit plugins, check the gates, "
        "and write reports/<name>/<run id>/{report.html,findings.json,predictions.csv}.",
        epilog=EPILOG,
    )
    run.add_argument("spec", type=Path, help="audit spec (YAML)")
    run.add_argument("--out", type=Path, help="output directory (overrides the spec's 'output'; default ./reports)")
    run.add_argument(
        "--cache-dir",
        type=Path,
        help="where fine-tuned models are cached (default $FMAUDIT_CACHE_DIR or ~/.cache/fmaudit)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress output; print only the gate table")

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args.spec)
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
    from fmaudit.pipeline import run

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"fmaudit: {message}", file=sys.stderr, flush=True)

    result = run(
        args.spec,
        out=args.out,
        cache_dir=args.cache_dir,
        command=shlex.join(["fmaudit", *sys.argv[1:]]) if sys.argv[1:] else "fmaudit run",
        progress=progress,
        show_progress_bars=not args.quiet,
    )
    print(gate_table(result.gate_results))
    print(f"report: {result.report_dir / 'report.html'}")
    return result.exit_code


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
    from fmaudit.pipeline import plan

    the_plan = plan(spec)
    data = the_plan.data
    print(
        f"{spec}: valid — {data.n_rows} rows, {len(the_plan.plugins)} plugins "
        f"({', '.join(the_plan.plugins)}), {len(the_plan.gates)} gates"
    )
    return ExitCode.OK


def _plugins(spec: Path | None) -> int:
    from fmaudit.plugins.base import AuditPlan
    from fmaudit.plugins.registry import available_plugins, lookup_plugin

    if spec is not None:
        from fmaudit.pipeline import plan

        the_plan = plan(spec)
        for name, paths in the_plan.metric_paths.items():
            print(f"{name}  ({the_plan.plugins[name].title})")
            for path in paths:
                print(f"    {path}")
        return ExitCode.OK
    for name, target in available_plugins().items():
        plugin = lookup_plugin(name)
        print(f"{name}  ({plugin.title}; {target})")
        for path in plugin.metric_paths(plugin.Params(), AuditPlan.placeholder()):
            print(f"    {path}")
    return ExitCode.OK
