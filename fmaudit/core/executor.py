"""Where a run's independent jobs execute: in this process and its forked workers (``local``, the default), or
on a Ray cluster (``ray``), chosen by ``--executor`` / ``$FMAUDIT_EXECUTOR``.

Two shapes of work cover the three workloads (training jobs, audits of many specs, attack shards):

- ``map(fn, items)``: independent jobs, results in item order. Ray retries a job whose worker or node died.
- ``holding(state, init)``: workers that each keep ``state`` (e.g. the victim model and its built attacks)
  loaded across many small calls; locally a fork pool that inherits it, on Ray actors that receive it once.

Ray is imported only inside ``RayExecutor``, and only when chosen. Results never depend on the backend: every
job is a pure function of its item (seeds travel in the item), and both backends return results in item order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from fmaudit.core.errors import ExecutorError, JobError

T = TypeVar("T")
R = TypeVar("R")

ExecutorName = Literal["local", "ray"]
EXECUTORS: tuple[ExecutorName, ...] = ("local", "ray")
RAY_EXTRA = "pip install 'fmaudit[ray]'"


class WorkerPool(Protocol):
    """Workers holding one shared state; ``map`` calls ``fn(state, item)`` on them, results in item order."""

    @property
    def workers(self) -> int: ...

    def map(self, fn: Callable[[Any, T], R], items: Sequence[T]) -> Iterator[R]: ...


class Executor(Protocol):
    """Runs independent jobs; see the module docstring."""

    @property
    def name(self) -> ExecutorName: ...

    @property
    def distributed(self) -> bool:
        """Whether jobs run outside this process (then results travel through files or the object store)."""
        ...

    @property
    def workers(self) -> int:
        """How many jobs can run at once: this process's CPUs, or the Ray cluster's."""
        ...

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def holding(
        self, state: Any, workers: int, init: Callable[[], None] = lambda: None
    ) -> contextlib.AbstractContextManager[WorkerPool]: ...

    def shutdown(self) -> None:
        """Release what the executor started (a local Ray instance)."""


# ---------------------------------------------------------------- local


_STATE: Any = None
"""The state of the local pool's workers, set before forking so that they inherit it instead of a copy."""


def _call_with_state(task: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    fn, item = task
    return fn(_STATE, item)


@dataclass
class _ForkPool:
    """Forked workers (or this process alone, for one worker or where fork does not exist)."""

    workers: int
    pool: Any = None

    def map(self, fn: Callable[[Any, T], R], items: Sequence[T]) -> Iterator[R]:
        tasks = [(fn, item) for item in items]
        return self.pool.imap(_call_with_state, tasks) if self.pool is not None else map(_call_with_state, tasks)


@dataclass(frozen=True)
class LocalExecutor:
    """This machine: jobs one after another in this process, stateful workers as a fork pool."""

    name: ExecutorName = "local"
    distributed: bool = False

    @property
    def workers(self) -> int:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]

    def shutdown(self) -> None:
        pass

    @contextlib.contextmanager
    def holding(self, state: Any, workers: int, init: Callable[[], None] = lambda: None) -> Iterator[WorkerPool]:
        global _STATE
        use_fork = workers > 1 and "fork" in multiprocessing.get_all_start_methods()
        _STATE = state
        try:
            pool = multiprocessing.get_context("fork").Pool(workers, initializer=init) if use_fork else None
            try:
                yield _ForkPool(workers if use_fork else 1, pool)
                if pool is not None:
                    pool.close()  # workers exit normally, running their exit handlers (e.g. cache flushes)
                    pool.join()
            finally:
                if pool is not None:
                    pool.terminate()
        finally:
            _STATE = None


# ---------------------------------------------------------------- ray


@dataclass
class RayExecutor:
    """A Ray cluster: ``address`` an existing one (``ray://`` or ``host:port``), else a local Ray started on first
    use with ``num_cpus`` CPUs (default all). Jobs and actors take one CPU each; a job whose worker or node dies
    is retried ``retries`` times, an actor restarted as often, before the run fails (exit 3)."""

    address: str | None = None
    num_cpus: int | None = None
    retries: int = 3
    name: ExecutorName = "ray"
    distributed: bool = True
    _started: bool = field(default=False, repr=False)

    @property
    def workers(self) -> int:
        self.connect()
        return max(1, int(import_ray().cluster_resources().get("CPU", 1)))

    def connect(self) -> None:
        """Join the cluster (or start a local one); a clear error when Ray is missing or the address unreachable."""
        ray = import_ray()
        if ray.is_initialized():
            return
        if self.address:
            _check_reachable(self.address)
        try:
            ray.init(
                address=self.address,
                num_cpus=None if self.address else self.num_cpus,
                include_dashboard=False,
                log_to_driver=True,
                configure_logging=False,
            )
        except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray instance"
            raise ExecutorError(f"cannot connect to {where}: {exc}".strip()) from exc
        self._started = True

    def shutdown(self) -> None:
        """Leave the cluster if this executor joined it (a local Ray it started stops with it)."""
        if self._started:
            import_ray().shutdown()
            self._started = False

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        self.connect()
        ray = import_ray()
        remote = ray.remote(num_cpus=1, max_retries=self.retries)(_apply)
        fn_ref = ray.put(fn)
        return _results(ray, [remote.remote(fn_ref, item) for item in items])

    @contextlib.contextmanager
    def holding(self, state: Any, workers: int, init: Callable[[], None] = lambda: None) -> Iterator[WorkerPool]:
        self.connect()
        ray = import_ray()
        holder = ray.remote(num_cpus=1, max_restarts=self.retries, max_task_retries=self.retries)(_Holder)
        state = [ray.put(state)]  # in a list, so that the actor resolves it only after ``init``
        actors = [holder.remote(state, init) for _ in range(max(1, workers))]
        try:
            yield _ActorPool(ray, actors)
            # Actors run their exit handlers (e.g. cache flushes) before they are killed below.
            ray.wait([actor.close.remote() for actor in actors], num_returns=len(actors), timeout=60)
        finally:
            for actor in actors:
                ray.kill(actor)


def _apply(fn: Callable[[T], R], item: T) -> R:
    return fn(item)


class _Holder:
    """A Ray actor that keeps the pool's state loaded (restarted from the object store if its node dies)."""

    def __init__(self, state: list[Any], init: Callable[[], None]) -> None:
        import ray

        init()  # before the state is unpickled: it may import what ``init`` prepares
        self.state = ray.get(state[0])

    def ready(self) -> bool:
        return True

    def call(self, fn: Callable[[Any, Any], Any], item: Any) -> Any:
        return fn(self.state, item)

    def close(self) -> None:
        """Run this process's exit handlers now, as a normal exit would: ``ray.kill`` ends it without them."""
        import atexit

        atexit._run_exitfuncs()


@dataclass
class _ActorPool:
    """Items go, one at a time, to whichever actor is started and idle: an actor still waiting for a CPU (e.g.
    held by another spec's actors) gets none, so concurrent pools cannot wait on each other. Results are
    yielded in item order as they arrive."""

    ray: Any
    actors: list[Any]

    @property
    def workers(self) -> int:
        return len(self.actors)

    def map(self, fn: Callable[[Any, T], R], items: Sequence[T]) -> Iterator[R]:
        fn_ref = self.ray.put(fn)
        starting = {actor.ready.remote(): actor for actor in self.actors}
        running: dict[Any, tuple[int, Any]] = {}  # result ref -> (item index, actor)
        done: dict[int, Any] = {}
        following = 0
        for index, item in enumerate(items):
            actor = self._idle(starting, running, done)
            running[actor.call.remote(fn_ref, item)] = (index, actor)
            while following in done:
                yield done.pop(following)
                following += 1
        while running:
            self._finish_one(running, done)
            while following in done:
                yield done.pop(following)
                following += 1

    def _idle(self, starting: dict[Any, Any], running: dict[Any, tuple[int, Any]], done: dict[int, Any]) -> Any:
        """An actor free for the next item: one that just started, else the one whose item finishes first."""
        ready, _ = self.ray.wait([*starting, *running], num_returns=1)
        if ready[0] in starting:
            _results(self.ray, ready)
            return starting.pop(ready[0])
        return self._finish_one(running, done)

    def _finish_one(self, running: dict[Any, tuple[int, Any]], done: dict[int, Any]) -> Any:
        ready, _ = self.ray.wait(list(running), num_returns=1)
        index, actor = running.pop(ready[0])
        done[index] = _results(self.ray, ready)[0]
        return actor


def _results(ray: Any, refs: list[Any]) -> list[Any]:
    """``ray.get`` with the job's own error re-raised as itself, and Ray's give-up as a JobError (exit 3)."""
    from ray import exceptions

    try:
        return list(ray.get(refs))
    except exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, Exception):
            raise cause from None
        raise JobError(f"a job failed on Ray: {exc}") from exc
    except exceptions.RayError as exc:  # worker, actor or node died past every retry; an object lost
        raise JobError(f"a job could not be completed on Ray ({type(exc).__name__}): {exc}") from exc


# ---------------------------------------------------------------- choice


def import_ray() -> Any:
    """The ``ray`` module, or an ExecutorError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA} ({exc})") from exc
    return ray


def executor_from(name: str | None = None, address: str | None = None, *, num_cpus: int | None = None) -> Executor:
    """The executor called ``name`` (default ``$FMAUDIT_EXECUTOR``, else local), checked before any work starts:
    a missing Ray or an unreachable address is an ExecutorError (exit 2) here, not halfway through a run."""
    name = name or os.environ.get("FMAUDIT_EXECUTOR") or "local"
    address = address or os.environ.get("FMAUDIT_RAY_ADDRESS") or None
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        executor = RayExecutor(address=address, num_cpus=num_cpus)
        executor.connect()
        return executor
    raise ExecutorError(f"unknown executor {name!r}: choose one of {', '.join(EXECUTORS)}")


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing listens at (``ray.init`` would retry for minutes); 'auto' and
    addresses without a port are left to Ray."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ExecutorError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc
