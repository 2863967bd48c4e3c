"""Attack examples one by one, on the executor's workers holding the built attacks, one torch thread each.

TextAttack's own parallel mode refuses to run without a GPU (and its CLI-only parallelism is
TextAttack issue #372). On CPU, two processes with one thread each beat one process with two.
Locally the workers are forked after the attacks are built, so the model and resources are shared, not
copied or reloaded; on Ray each actor receives the built attacks once and keeps the victim loaded.
Each example is attacked with its own seed (``seed + row``), so results do not depend on how examples
are spread over workers or machines, and equal TextAttack's ``Attacker`` given that seed.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fmaudit.core.executor import Executor, LocalExecutor
from fmaudit.families.robustness.constraints import withheld_candidates
from fmaudit.families.robustness.recipes import BuiltAttack, quiet_textattack
from fmaudit.families.robustness.worker_setup import prepare_worker

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


Job = tuple[dict[str, BuiltAttack], list[Example], int]
"""What every worker holds: the built attacks, the examples and the seed."""


def _work(job: Job, task: tuple[str, int, float]) -> Outcome:
    attacks, examples, seed = job
    name, index, deadline = task
    # The deadline travels as wall-clock time, which machines agree on; the attack reads the monotonic clock.
    remaining = deadline - time.time()
    return attack_example(attacks[name], examples[index], seed=seed, deadline=time.monotonic() + remaining)


def worker_count(requested: int | None, examples: int, available: int | None = None) -> int:
    """Workers to use: as requested, else one per available CPU (``available``, default this process's); never
    more than the examples."""
    return max(1, min(requested or available or LocalExecutor().workers, examples))


def run_attacks(
    attacks: dict[str, BuiltAttack],
    examples: list[Example],
    *,
    seed: int,
    time_limit: float | None,
    workers: int,
    show_progress: bool = False,
    on_recipe: Callable[[str], None] = lambda name: None,
    executor: Executor | None = None,
    nltk_dir: Path | None = None,
) -> dict[str, tuple[list[Outcome], float]]:
    """Every recipe over every example; per recipe the outcomes in example order and the wall time.

    ``nltk_dir``: where a fresh (not forked) worker finds the NLTK data that offline TextAttack reads.

    A recipe's wall-clock cap starts with its first example; examples not begun by then are 'not attacked'.
    """
    from tqdm.auto import tqdm

    done: dict[str, tuple[list[Outcome], float]] = {}
    job: Job = (attacks, examples, seed)
    init = functools.partial(prepare_worker, nltk_dir)
    with (executor or LocalExecutor()).holding(job, workers if attacks else 1, init=init) as pool:
        for name in attacks:
            on_recipe(name)
            started = time.monotonic()
            deadline = time.time() + time_limit if time_limit else math.inf
            stream = pool.map(_work, [(name, i, deadline) for i in range(len(examples))])
            outcomes = list(tqdm(stream, total=len(examples), desc=name, unit="example", disable=not show_progress))
            done[name] = (outcomes, time.monotonic() - started)
    return done
