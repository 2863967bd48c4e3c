"""Benchmark: the same attack workload on the local backend (fork pool) and on Ray (actors holding the victim),
with 1 and 2 workers. Prints each wall time, the overhead Ray/local at equal workers (target <= 1.2x) and the
speed-up from 1 to 2 workers (target >= 1.6x), and whether every configuration gave the same outcomes.

The model is the spec's (from the model cache, or trained once). Each pool is warmed on a few other rows
first, so the figures compare steady-state attack throughput; the warm-up (fork, or actor start and the model
shipped through Ray's object store) is printed apart. Ray runs as a local instance on this machine.

    python bench/ray_scaling.py [--spec audits/credit.yaml] [--recipe DeepWordBugGao2018] [--examples 16]
                                [--warm-up 2] [--query-budget 200]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

import numpy as np

from fmaudit.core.executor import Executor, LocalExecutor, RayExecutor
from fmaudit.core.offline import prepare_textattack
from fmaudit.engine.pipeline import default_cache_dir, plan, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="audits/credit.yaml")
    parser.add_argument("--recipe", default="DeepWordBugGao2018")
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--warm-up", type=int, default=2)
    parser.add_argument("--query-budget", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    nltk_dir = Path(tempfile.mkdtemp(prefix="fmaudit-bench-")) / "nltk_data"
    prepare_textattack(nltk_dir)

    from fmaudit.families.robustness.recipes import Resources, build_attack
    from fmaudit.families.robustness.victim import Victim
    from fmaudit.families.robustness.worker_setup import prepare_worker
    from fmaudit.families.robustness.workers import Example, Outcome, _work
    from fmaudit.models.encodings import EncoderCache
    from fmaudit.models.text import TextClassifier

    the_plan = plan(args.spec)
    data = the_plan.data
    trained, _ = train(the_plan, the_plan.loaded.spec.training, cache_dir=default_cache_dir(), show_progress=False)
    assert isinstance(trained, TextClassifier), "the attack bench attacks a text model"
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(data.test_idx, size=min(args.examples + args.warm_up, len(data.test_idx)), replace=False)
    examples = [Example(int(r), data.texts[int(r)], int(data.labels[int(r)])) for r in rows]
    warm = [(args.recipe, i, float("inf")) for i in range(args.warm_up)]
    measured = [(args.recipe, i, float("inf")) for i in range(args.warm_up, len(examples))]

    def attack(executor: Executor, workers: int) -> tuple[float, float, list[Outcome]]:
        """Warm-up seconds (pool start and the warm-up rows), attack seconds, outcomes. The attack is built
        afresh each time: its victim memoises scores, and a memo filled by the previous run would be shipped;
        likewise a head-only model's encoder cache starts empty and in memory only (nothing read or left on disk)."""
        if trained.encodings is not None:
            trained.use_encodings(EncoderCache(None))
        built = build_attack(
            args.recipe,
            custom={},
            victim=Victim(trained),
            resources=Resources(),
            protection=None,
            reject_antonyms=False,
            query_budget=args.query_budget,
        )
        job = ({args.recipe: built}, examples, args.seed)
        started = time.perf_counter()
        with executor.holding(job, workers, init=functools.partial(prepare_worker, nltk_dir)) as pool:
            list(pool.map(_work, warm))
            warmed = time.perf_counter()
            outcomes = list(pool.map(_work, measured))
            return warmed - started, time.perf_counter() - warmed, outcomes

    print(f"{args.recipe} on {len(measured)} test rows of {args.spec} (+{args.warm_up} warm-up rows)")
    ray_started = time.perf_counter()
    on_ray = RayExecutor(num_cpus=2)
    on_ray.connect()
    print(f"Ray started in {time.perf_counter() - ray_started:.1f} s (not counted below)")
    seconds: dict[tuple[str, int], float] = {}
    results: dict[tuple[str, int], list[tuple[int, str, int]]] = {}
    try:
        for name, executor in (("local", LocalExecutor()), ("ray", on_ray)):
            for workers in (1, 2):
                warm_up, took, outcomes = attack(executor, workers)
                seconds[name, workers] = took
                results[name, workers] = [(o.row, o.status, o.queries) for o in outcomes]
                print(f"{name:5} {workers} worker(s): {took:7.1f} s  (warm-up {warm_up:5.1f} s)")
    finally:
        on_ray.shutdown()
    for workers in (1, 2):
        print(f"overhead Ray/local at {workers} worker(s): {seconds['ray', workers] / seconds['local', workers]:.2f}x"
              " (target <= 1.2x)")  # fmt: skip
    for name in ("local", "ray"):
        print(f"speed-up 1 -> 2 workers on {name}: {seconds[name, 1] / seconds[name, 2]:.2f}x (target >= 1.6x)")
    same = all(outcome == results["local", 1] for outcome in results.values())
    print(f"identical outcomes (row, status, queries) in every configuration: {same}")


if __name__ == "__main__":
    main()
