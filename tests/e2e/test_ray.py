"""The Ray executor on a two-node cluster started inside the test (both nodes on this machine, one CPU each):
results equal the local backend's, a worker or node killed mid-run is retried, and what Ray cannot recover
fails the run with exit 3 and no report. Skipped, with the reason, only where Ray is not installed; a Ray that is
installed but cannot start a cluster fails every test here (a skip would hide that the executor went untested)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fmaudit.core.errors import ExitCode, JobError
from fmaudit.core.executor import RayExecutor
from tests.support.batch import check_verdicts, many_specs
from tests.support.runs import load_run, run_cli
from tests.support.specs import tiny_spec

try:
    import ray
except ModuleNotFoundError as missing:
    if missing.name != "ray":
        raise  # Ray is installed but one of its own imports fails: an error, not a skip
    pytest.skip("Ray is not installed: pip install 'fmaudit[ray]'", allow_module_level=True)

TIMING_KEYS = {
    "run_id", "timestamp", "seconds", "from_cache", "command", "spec_path", "data_path", "epoch_seconds", "stages"
}  # fmt: skip
"""What may differ between two runs of one spec: when, how long, where from, and where the time went (the stages
differ by design: on Ray the models train in one stage, in other processes); everything else must be equal."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node and a worker node, one CPU each, and this process connected as the driver."""
    from ray.cluster_utils import Cluster

    started, failure = None, ""
    try:
        started = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        started.add_node(num_cpus=1)
        started.wait_for_nodes()
        ray.init(address=started.address, include_dashboard=False)
    except Exception as exc:  # no shared memory, no free ports, ...: the Ray suite did not run, which is a failure
        failure = f"Ray is installed but cannot start a local cluster here: {type(exc).__name__}: {exc}"
        ray.shutdown()
        if started is not None:
            started.shutdown()
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        yield started
    finally:
        ray.shutdown()
        started.shutdown()


def worker_node(cluster: Any) -> Any:
    return next(node for node in cluster.list_all_nodes() if not node.head)


def _where(item: int) -> tuple[int, str]:
    time.sleep(0.2)
    return item * 2, ray.get_runtime_context().get_node_id()


def _where_held(state: int, item: int) -> tuple[int, str]:
    time.sleep(0.1)
    return state + item, ray.get_runtime_context().get_node_id()


def test_jobs_and_held_state_run_on_both_nodes_with_results_in_item_order(cluster) -> None:  # type: ignore[no-untyped-def]
    executor = RayExecutor(address=cluster.address)
    assert executor.workers == 2
    results = executor.map(_where, list(range(8)))
    assert [value for value, _ in results] == [2 * i for i in range(8)]
    assert len({node for _, node in results}) == 2
    with executor.holding(100, workers=2) as pool:
        held = list(pool.map(_where_held, list(range(10))))
    assert [value for value, _ in held] == [100 + i for i in range(10)]
    assert len({node for _, node in held}) == 2


def crash_once(marker_dir: Path):  # type: ignore[no-untyped-def]
    """A job that kills its own worker process the first time it sees each item, then succeeds."""

    def job(item: int) -> int:
        marker = marker_dir / str(item)
        if not marker.exists():
            marker.touch()
            os._exit(1)
        return item + 1

    return job


def test_a_job_whose_worker_dies_is_retried_and_completes(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert RayExecutor(retries=1).map(crash_once(tmp_path), [1, 2, 3]) == [2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2", "3"]  # every item crashed once


def test_an_actor_whose_process_dies_is_restarted_and_its_item_retried(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = crash_once(tmp_path)
    with RayExecutor(retries=2).holding(None, workers=2) as pool:
        assert list(pool.map(lambda _state, item: job(item), [5, 6])) == [6, 7]


def test_a_job_that_keeps_dying_past_its_retries_is_a_job_error_exit_3(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def always_dies(item: int) -> int:
        os._exit(1)

    with pytest.raises(JobError, match="could not be completed on Ray") as raised:
        RayExecutor(retries=1).map(always_dies, [1])
    assert raised.value.exit_code == ExitCode.INTERNAL_ERROR


def test_a_job_that_raises_raises_its_own_error(cluster) -> None:  # type: ignore[no-untyped-def]
    def refuses(item: int) -> int:
        raise ValueError(f"bad item {item}")

    with pytest.raises(ValueError, match="bad item 7"):
        RayExecutor().map(refuses, [7])


# ---------------------------------------------------------------- the end-to-end spec on both backends


def e2e_spec(model_dir: Path) -> dict[str, Any]:
    """The end-to-end spec cut to what the backend changes: training jobs (DP model, twin, sweep point, two
    reference models) and robustness attacks, with performance and privacy figures to compare. DP noise is
    seeded: by default it comes from OS entropy, and no two runs (on any backend) would train the same weights."""
    spec = tiny_spec(model_dir)
    spec["training"]["privacy"]["reproducible_noise"] = True
    spec["audits"] = {
        "performance": {"n_boot": 100},
        # Two attack workers asked for: as many as the cluster has CPUs, and still two when a node is lost.
        "robustness": {"recipes": ["DeepWordBugGao2018"], "samples": 4, "query_budget": 60, "workers": 2},
        "privacy": {},
    }
    spec["gates"] = ["privacy.epsilon <= 8.01", "robustness.DeepWordBugGao2018.not_attacked == 0"]
    return spec


def without_timing_columns(table: dict[str, Any]) -> dict[str, Any]:
    keep = [i for i, column in enumerate(table["columns"]) if not re.search(r"\btime \(s\)|seconds", str(column))]
    return table | {
        "columns": [table["columns"][i] for i in keep],
        "rows": [[row[i] for i in keep] for row in table["rows"]],
    }


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two findings.json documents differ, apart from their timing figures (keys and table columns)."""
    if isinstance(a, dict) and isinstance(b, dict) and {"columns", "rows"} <= set(a) & set(b):
        a, b = without_timing_columns(a), without_timing_columns(b)
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted((set(a) | set(b)) - TIMING_KEYS)
        return [d for k in keys for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r:.80} != {b!r:.80}"]


def audit(spec_path: Path, out: Path, *executor: str) -> tuple[int, str]:
    return run_cli(["run", str(spec_path), "--out", str(out / "reports"), "--cache-dir", str(out / "cache"),
                    "--quiet", *executor])  # fmt: skip


@pytest.fixture(scope="module")
def e2e(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The spec, and its findings on the local backend (the reference every Ray run must equal)."""
    workspace = tmp_path_factory.mktemp("ray-e2e")
    spec_path = workspace / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(e2e_spec(tiny_bert), sort_keys=False))
    code, stdout = audit(spec_path, workspace / "local")
    assert code == ExitCode.OK, stdout
    return spec_path, load_run(code, stdout).findings


@pytest.mark.slow
def test_ray_on_two_nodes_writes_the_findings_of_the_local_backend(cluster, e2e, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec_path, local = e2e
    code, stdout = audit(spec_path, tmp_path, "--executor", "ray", "--ray-address", cluster.address)
    assert code == ExitCode.OK, stdout
    assert differences(load_run(code, stdout).findings, local) == []
    assert len(list((tmp_path / "cache" / "models").glob("[0-9a-f]*"))) == 5  # every training job, cached


@pytest.mark.slow
def test_a_node_killed_while_training_jobs_run_is_retried_and_the_findings_stay(cluster, e2e, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import psutil

    spec_path, local = e2e
    node = worker_node(cluster)
    raylet = psutil.Process(node.all_processes["raylet"][0].process.pid)

    def kill_when_busy() -> None:  # kill the worker node's raylet once a training job runs on it
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not stop.is_set():
            try:
                busy = any("ray::_apply" in " ".join(p.cmdline()) for p in raylet.children(recursive=True))
            except psutil.Error:
                busy = False
            if busy:
                cluster.remove_node(node, allow_graceful=False)
                killed.set()
                return
            time.sleep(0.05)

    stop, killed = threading.Event(), threading.Event()
    watcher = threading.Thread(target=kill_when_busy, daemon=True)
    watcher.start()
    try:
        code, stdout = audit(spec_path, tmp_path, "--executor", "ray", "--ray-address", cluster.address)
    finally:
        stop.set()
        watcher.join(timeout=60)
        cluster.add_node(num_cpus=1)  # back to two nodes for the tests after this one
        cluster.wait_for_nodes()
    assert killed.is_set() and not raylet.is_running(), "the worker node was never killed mid-run"
    assert code == ExitCode.OK, stdout
    assert differences(load_run(code, stdout).findings, local) == []


@pytest.mark.slow
def test_a_training_job_ray_cannot_complete_exits_3_and_writes_no_report(  # type: ignore[no-untyped-def]
    cluster, e2e, tmp_path, monkeypatch, capsys
) -> None:
    import fmaudit.engine.trainer

    def dies(*args: Any) -> Any:  # the job's worker process dies every time it is tried
        os._exit(1)

    monkeypatch.setattr(fmaudit.engine.trainer, "_train_job", dies)
    spec_path, _ = e2e
    code, _ = audit(spec_path, tmp_path, "--executor", "ray", "--ray-address", cluster.address)
    assert code == ExitCode.INTERNAL_ERROR
    assert "JobError" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_several_specs_run_concurrently_on_ray_with_the_worst_exit_code(cluster, write_spec, tmp_path) -> None:  # type: ignore[no-untyped-def]
    specs = many_specs(write_spec)
    reports = tmp_path / "reports"
    code, out = run_cli(["run", *map(str, specs), "--out", str(reports), "--cache-dir", str(tmp_path / "cache"),
                         "--quiet", "--executor", "ray", "--ray-address", cluster.address])  # fmt: skip
    check_verdicts(code, out, specs, reports)
