"""The executor choice (``--executor``, ``--ray-address``) and several specs in one run, on this machine.

The Ray cluster tests are in tests/e2e/test_ray.py; here nothing starts Ray."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from fmaudit.cli import main
from fmaudit.core.errors import ExecutorError, ExitCode
from fmaudit.core.executor import LocalExecutor, executor_from
from fmaudit.engine.batch import Verdict, verdict_table, worst_exit_code
from tests.support.batch import check_verdicts, many_specs


def _square_plus(state: int, item: int) -> tuple[int, int]:
    return item * item + state, os.getpid()


def test_the_local_pool_keeps_item_order_and_forks_workers_holding_the_state() -> None:
    with LocalExecutor().holding(10, workers=2) as pool:
        results = list(pool.map(_square_plus, list(range(40))))
    assert [value for value, _ in results] == [i * i + 10 for i in range(40)]
    assert pool.workers == 2
    assert os.getpid() not in {pid for _, pid in results}


def test_the_local_pool_of_one_worker_runs_in_this_process() -> None:
    with LocalExecutor().holding(1, workers=1) as pool:
        assert list(pool.map(_square_plus, [2, 3])) == [(5, os.getpid()), (10, os.getpid())]


def test_local_is_the_default_and_an_unknown_executor_is_an_input_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("FMAUDIT_EXECUTOR", raising=False)
    assert executor_from(None).name == "local"
    assert LocalExecutor().map(abs, [-2, 3, -4]) == [2, 3, 4]
    monkeypatch.setenv("FMAUDIT_EXECUTOR", "dask")
    with pytest.raises(ExecutorError, match="unknown executor 'dask': choose one of local, ray"):
        executor_from(None)


def test_executor_ray_without_ray_installed_exits_2_saying_how_to_install(
    spec_dict, write_spec, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["run", str(write_spec(spec_dict)), "--executor", "ray"])
    assert code == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "ExecutorError" in err
    assert "--executor ray needs Ray, which is not installed: pip install 'fmaudit[ray]'" in err


def test_fmaudit_executor_env_chooses_ray(spec_dict, write_spec, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setenv("FMAUDIT_EXECUTOR", "ray")
    assert main(["run", str(write_spec(spec_dict))]) == ExitCode.INPUT_ERROR
    assert "pip install 'fmaudit[ray]'" in capsys.readouterr().err


def test_an_unreachable_ray_address_exits_2_at_once(spec_dict, write_spec, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'fmaudit[ray]'")
    with socket.socket() as probe:  # a port nothing listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    code = main(["run", str(write_spec(spec_dict)), "--executor", "ray", "--ray-address", address])
    assert code == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert f"cannot reach the Ray cluster at '{address}'" in err
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


def test_several_specs_run_one_after_another_and_exit_with_the_worst_code(write_spec, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    specs = many_specs(write_spec)
    reports = tmp_path / "reports"
    args = ["run", *map(str, specs), "--out", str(reports), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    code = main([*args, "--executor", "local"])
    check_verdicts(code, capsys.readouterr().out, specs, reports)


def test_the_verdict_table_and_worst_code() -> None:
    verdicts = [
        Verdict(Path("a.yaml"), "mlp", 3, 0, 0, Path("r/a")),
        Verdict(Path("b.yaml"), "", 0, 0, 3, None, "JobError: a node died"),
        Verdict(Path("c.yaml"), "mlp", 2, 1, 1, Path("r/c")),
    ]
    assert worst_exit_code(verdicts) == 3
    assert worst_exit_code([]) == 0
    assert verdict_table(verdicts).splitlines() == [
        "spec    model  gates passed  gates failed  exit  report",
        "-" * 55,
        "a.yaml  mlp    3             0             0     r/a",
        "b.yaml  -      0             0             3     -",
        "c.yaml  mlp    2             1             1     r/c",
        "b.yaml: JobError: a node died",
        "3 specs, 1 passed; exit code 3",
    ]
