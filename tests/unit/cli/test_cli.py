"""Command line: help, exit codes, error messages, and a light `validate`."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from fmaudit.cli import build_parser, main
from fmaudit.core.errors import ExitCode


def subcommands() -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """The parser's subcommands, read from the parser itself (not from a list kept by hand)."""
    [action] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return action


def test_help_lists_every_command(capsys) -> None:  # type: ignore[no-untyped-def]
    commands = subcommands()
    expected = {"run", "validate", "plugins", "formats", "report", "diff", "export", "verify", "keygen"}
    assert expected <= set(commands.choices)
    summaries = {line.dest: line.help for line in commands._choices_actions}
    assert set(summaries) == set(commands.choices)  # every command has a summary line
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())  # argparse wraps long summaries to the terminal's width
    for command, summary in summaries.items():
        assert summary and f" {command} {summary} " in words, command
    assert "exit codes: 0 all gates pass, 1 a gate failed, 2 invalid" in out


@pytest.mark.parametrize("command", sorted(subcommands().choices))
def test_every_command_has_its_own_help(command: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: fmaudit {command} ")


def test_run_help_documents_out_and_cache_dir(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--out" in out and "--cache-dir" in out and "--mlflow-uri" in out


def test_mlflow_uri_is_read_from_the_working_directory_and_checked_before_training(  # type: ignore[no-untyped-def]
    spec_dict, write_spec, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    spec = write_spec(spec_dict)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code = main(["run", str(spec), "--out", str(tmp_path / "out"), "--mlflow-uri", "file:store", "--quiet"])
    assert code == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    store = (tmp_path / "elsewhere" / "store").as_uri()
    assert f"--mlflow-uri: {store} is a file store, which MLflow 3 opens only with MLFLOW_ALLOW_FILE_STORE=true" in err
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written


def test_validate_checks_that_output_mlflow_can_be_used(spec_dict, write_spec, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "mlflow", None)  # not installed
    spec_dict["output"] = {"mlflow": {"tracking_uri": "http://mlflow:5000"}}
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "needs the mlflow package: pip install 'fmaudit[mlflow]'" in capsys.readouterr().err


def test_validate_ok(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.OK
    assert "valid — 1000 rows, 2 plugins (performance, fairness), 1 gates" in capsys.readouterr().out


def test_unknown_key_exits_2_naming_file_and_key(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["data"]["lable"] = "x"
    path = write_spec(spec_dict)
    assert main(["validate", str(path)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert f"{path}: data.lable: unknown key (did you mean 'label'?)" in err


def test_gate_on_unknown_metric_exits_2_before_any_training(spec_dict, write_spec, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["gates"] = ["fairness.gender.demographic_parity_ratio >= 0.8"]
    code = main(["run", str(write_spec(spec_dict)), "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")])
    assert code == ExitCode.INPUT_ERROR
    assert "names unknown metric 'fairness.gender.demographic_parity_ratio'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "c").exists()


def test_missing_column_exits_2(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["data"]["sensitive"]["sex"]["column"] = "gender"
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "data.sensitive.sex.column: column 'gender' not found in germancredit.csv" in capsys.readouterr().err


def test_missing_data_file_exits_2(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["data"]["source"] = "missing.csv"
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "data.source: file not found" in capsys.readouterr().err


def test_delta_must_be_below_one_over_n(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["training"]["privacy"] = {"target_epsilon": 8, "delta": 0.01}
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "training.privacy.delta: must be below 1/N = 1.43e-03 for N = 700 training rows" in capsys.readouterr().err


def test_delta_at_or_above_one_over_n_needs_the_explicit_override(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["training"]["privacy"] = {"target_epsilon": 8, "delta": 0.01, "allow_large_delta": True}
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.OK


def test_privacy_gates_are_checked_before_training(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["audits"]["privacy"] = {}
    spec_dict["gates"] = ["privacy.cost.accuracy_drop <= 0.1"]
    path = write_spec(spec_dict)
    assert main(["validate", str(path)]) == ExitCode.INPUT_ERROR  # no DP, so no twin and no cost figures
    assert "names unknown metric 'privacy.cost.accuracy_drop'" in capsys.readouterr().err
    spec_dict["training"]["privacy"] = {"target_epsilon": 8, "delta": 1e-5, "sweep": [2]}
    spec_dict["gates"] = [
        "privacy.epsilon <= 8",
        "privacy.mia.auc <= 0.6",
        "privacy.cost.accuracy_drop <= 0.1",
        "privacy.cost.sex.demographic_parity_ratio_change <= 0.1",
        "privacy.sweep.eps_2.roc_auc >= 0.5",
    ]
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.OK


def test_a_sweep_of_non_positive_epsilons_is_refused(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["training"]["privacy"] = {"target_epsilon": 8, "delta": 1e-5, "sweep": [2, 0]}
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "training.privacy.sweep: must be distinct target epsilons > 0" in capsys.readouterr().err


def test_plugins_lists_metric_paths(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["plugins"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "fairness.<attribute>.demographic_parity_ratio" in out
    assert "robustness.DeepWordBugGao2018.attack_success_rate" in out
    assert "privacy.epsilon" in out


def test_plugins_resolves_paths_for_a_spec(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["plugins", str(write_spec(spec_dict))]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "fairness.sex_x_age_group.groups.female_under_25.selection_rate" in out


def test_validate_does_not_import_the_heavy_stack(spec_dict, write_spec) -> None:
    code = (
        "import sys; from fmaudit.cli import main; rc = main(['validate', sys.argv[1]]); "
        "heavy = [m for m in ('torch', 'transformers', 'textattack', 'opacus', 'captum', 'ray') if m in sys.modules]; "
        "print(rc, heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(write_spec(spec_dict))], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("0 []")


def test_an_unexpected_error_exits_3_not_1(spec_dict, write_spec, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import fmaudit.engine.pipeline

    def broken(path):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(fmaudit.engine.pipeline, "plan", broken)
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "internal error" in err and "ZeroDivisionError: a bug" in err


def test_a_sensitive_column_with_no_values_exits_2(spec_dict, write_spec, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    frame = pd.DataFrame({"y": ["good", "bad"] * 20, "sex": [None] * 40, "x": range(40)})
    frame.to_csv(tmp_path / "nosex.csv", index=False)
    spec_dict["data"].update(
        source="nosex.csv", label="y", sensitive={"sex": {"column": "sex"}}, intersections=[], template="{x}"
    )
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "data.sensitive.sex.column: column 'sex' has no values at all" in capsys.readouterr().err


def test_an_unknown_reference_group_exits_2(spec_dict, write_spec, capsys) -> None:  # type: ignore[no-untyped-def]
    spec_dict["audits"]["fairness"] = {"reference": {"sex": "woman"}}
    path = write_spec(spec_dict)
    assert main(["validate", str(path)]) == ExitCode.INPUT_ERROR
    assert f"{path}: audits.fairness.reference.sex: unknown group 'woman'; expected one of: female, male" in (
        capsys.readouterr().err
    )


def test_piping_into_head_is_not_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        f"{sys.executable} -m fmaudit plugins | head -n 1", shell=True, capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("performance")
    assert "internal error" not in result.stderr


def _user_data(spec_dict, source: str) -> None:  # type: ignore[no-untyped-def]
    spec_dict["data"].update(
        source=source, label="approved", positive=1, sensitive={"gender": {"column": "gender"}}, intersections=[]
    )
    spec_dict["data"]["template"] = "income {income}"


def test_a_data_file_with_a_header_and_no_rows_exits_2_naming_the_file(spec_dict, write_spec, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty.csv").write_text("approved,gender,income\n")
    _user_data(spec_dict, "empty.csv")
    path = str(write_spec(spec_dict))
    for args in (["validate", path], ["run", path, "--quiet"]):
        assert main(args) == ExitCode.INPUT_ERROR
        err = capsys.readouterr().err
        assert f"data.source: {tmp_path / 'empty.csv'} has no rows" in err and "Traceback" not in err


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_repeated_column_name_exits_2_naming_the_column(spec_dict, write_spec, tmp_path, capsys, suffix) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"dup.{suffix}"
    if suffix == "csv":
        path.write_text("approved,gender,income,gender\n1,f,2.0,m\n0,m,1.0,f\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = [pa.array([1, 0]), pa.array(["f", "m"]), pa.array([2.0, 1.0]), pa.array(["m", "f"])]
        pq.write_table(pa.table(columns, names=["approved", "gender", "income", "gender"]), path)
    _user_data(spec_dict, path.name)
    assert main(["validate", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert f"data.source: column name 'gender' appears more than once in {path}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("chosen", "quiet", "terminal", "mode"),
    [
        ("auto", False, True, "bar"),
        ("auto", False, False, "plain"),
        ("bar", False, False, "bar"),
        ("plain", False, True, "plain"),
        ("none", False, True, "none"),
        ("bar", True, True, "none"),
    ],
)
def test_progress_bars_are_drawn_only_on_a_terminal_unless_asked(
    chosen: str, quiet: bool, terminal: bool, mode: str
) -> None:
    from fmaudit.cli import progress_mode

    assert progress_mode(chosen, quiet=quiet, terminal=terminal) == mode


@pytest.mark.slow
def test_a_run_logged_to_a_file_gets_one_line_per_step_and_no_bars(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import copy

    import yaml

    from tests.support.specs import GERMAN_CREDIT_SPEC, tabular_spec

    spec = tabular_spec(copy.deepcopy(GERMAN_CREDIT_SPEC))
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    args = [sys.executable, "-m", "fmaudit", "run", str(path), "--out", str(tmp_path / "out")]
    # Bytes, not text: text mode would turn a bar's carriage returns into newlines.
    logged = subprocess.run([*args, "--cache-dir", str(tmp_path / "cache")], capture_output=True)
    stderr = logged.stderr.decode()
    assert logged.returncode == ExitCode.OK, stderr
    lines = stderr.split("\n")[:-1]
    assert "\r" not in stderr and all(line.startswith("fmaudit: ") for line in lines), lines[:5]
    assert any(line.endswith(" s") and "audit: fairness done in" in line for line in lines)
    cached = [*args, "--cache-dir", str(tmp_path / "cache"), "--progress", "bar"]
    asked = subprocess.run(cached, capture_output=True)
    assert asked.returncode == ExitCode.OK and b"\r" in asked.stderr  # the bars, when asked for
