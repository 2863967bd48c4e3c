"""Attack examples one by one, in worker processes over the examples with one torch thread each.

TextAttack's own parallel mode refuses to run without a GPU (and its CLI-only parallelism is
TextAttack issue #372). On CPU, two processes with one thread each beat one process with two.
Workers are forked after the attacks are built, so the model and resources are shared, not copied
or reloaded. Each example is attacked with its own seed (``seed + row``), so results do not depend
on how examples are spread over workers, and equal TextAttack's ``Attacker`` given that seed.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fmaudit.robustness.constraints import withheld_candidates
from fmaudit.robustness.recipes import BuiltAttack, quiet_textattack

Status = Literal["succeeded", "failed", "budget exhausted", "skipped", "not attacked"]


@dataclass(frozen=True)
class Example:
    """A test row to attack: its row id in the data, its text and its true label."""

    row: int
    text: str
    label: int


@dataclass(frozen=True)
class Outcome:
    """What happened to one example under one recipe."""

    row: int
    status: Status
    result: Any
    """TextAttack's AttackResult (its texts' perturbation history freed), None when not attacked."""
    queries: int
    rejected: dict[str, int]
    """Candidate perturbations each counted constraint rejected during this example's search."""
    withheld: int
    """Candidate perturbations of the original text that word protection withheld."""
    seconds: float


def example_seed(seed: int, row: int) -> int:
    """The random seed an example is attacked with (TextAttack's ``set_seed``)."""
    return seed + row


def attack_example(built: BuiltAttack, example: Example, *, seed: int, deadline: float = math.inf) -> Outcome:
    """Attack one example as TextAttack's Attacker would, seeded for this example alone."""
    from textattack.attack_results import SkippedAttackResult, SuccessfulAttackResult
    from textattack.shared import AttackedText
    from textattack.shared.utils import set_seed

    if time.monotonic() > deadline:
        return Outcome(example.row, "not attacked", None, 0, {}, 0, 0.0)
    started = time.perf_counter()
    for constraint in built.counted:
        constraint.rejected = 0
    set_seed(example_seed(seed, example.row))
    original = AttackedText(example.text)
    withheld = withheld_candidates(built.attack, built.protection, original) if built.protection else 0
    with quiet_textattack(stderr=False):
        result = built.attack.attack(original, example.label)
    goal = built.attack.goal_function
    queries = int(goal.num_queries)
    status: Status
    if isinstance(result, SkippedAttackResult):
        status = "skipped"
    elif isinstance(result, SuccessfulAttackResult):
        status = "succeeded"
    else:
        status = "budget exhausted" if queries >= goal.query_budget else "failed"
    result.original_result.attacked_text.free_memory()
    result.perturbed_result.attacked_text.free_memory()
    return Outcome(
        row=example.row,
        status=status,
        result=result,
        queries=queries,
        rejected={c.label: c.rejected for c in built.counted},
        withheld=withheld,
        seconds=time.perf_counter() - started,
    )


_JOB: tuple[dict[str, BuiltAttack], list[Example], int] | None = None
"""The attacks, examples and seed, set before forking so workers inherit them."""


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)
    # TextAttack sets TOKENIZERS_PARALLELISM=True at import, which keeps the tokenizer's thread pool on
    # after fork, where its threads no longer exist.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _work(task: tuple[str, int, float]) -> Outcome:
    assert _JOB is not None, "worker started without a job"
    attacks, examples, seed = _JOB
    name, index, deadline = task
    return attack_example(attacks[name], examples[index], seed=seed, deadline=deadline)


def worker_count(requested: int | None, examples: int) -> int:
    """Processes to use: as requested, else one per available CPU; never more than the examples."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or available, examples))


def run_attacks(
    attacks: dict[str, BuiltAttack],
    examples: list[Example],
    *,
    seed: int,
    time_limit: float | None,
    workers: int,
    show_progress: bool = False,
    on_recipe: Callable[[str], None] = lambda name: None,
) -> dict[str, tuple[list[Outcome], float]]:
    """Every recipe over every example; per recipe the outcomes in example order and the wall time.

    A recipe's wall-clock cap starts with its first example; examples not begun by then are 'not attacked'.
    """
    from tqdm.auto import tqdm

    global _JOB
    done: dict[str, tuple[list[Outcome], float]] = {}
    use_fork = workers > 1 and bool(attacks) and "fork" in multiprocessing.get_all_start_methods()
    _JOB = (attacks, examples, seed)
    try:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_init_worker) if use_fork else None
        try:
            for name in attacks:
                on_recipe(name)
                started = time.monotonic()
                deadline = started + time_limit if time_limit else math.inf
                tasks = [(name, i, deadline) for i in range(len(examples))]
                stream = pool.imap(_work, tasks) if pool is not None else map(_work, tasks)
                outcomes = list(tqdm(stream, total=len(tasks), desc=name, unit="example", disable=not show_progress))
                done[name] = (outcomes, time.monotonic() - started)
            if pool is not None:
                pool.close()  # workers exit normally, writing what they encoded to the encoder cache
                pool.join()
        finally:
            if pool is not None:
                pool.terminate()
    finally:
        _JOB = None
    return done
