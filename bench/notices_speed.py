"""Benchmark: the adverse-action notices step of the demo (audits/credit.yaml), per model (the DP model and its
no-DP twin).

The explanations plugin runs twice per model, with ``notices: 0`` and with ``--notices`` (default ``all``);
the difference is the notices step (the sampled global view is the same in both runs). Prints per model: the
adverse decisions, the notices produced, both wall times and their difference (and the difference in this
process's CPU time, less sensitive to other work on a shared machine), the share of notices passing their
check, and the size of the notices table in findings.json.
Before the change (notices from Integrated Gradients and feature ablation, a number only), run it on that
code with ``--notices 6`` (the demo's old setting).

Run: PYTHONPATH=$PWD .venv/bin/python bench/notices_speed.py [--notices all] (loads the demo's models from
the cache, training them first if they are not cached yet).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "audits" / "credit.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", default="all", help="'all' or a number (a seeded sample)")
    args = parser.parse_args()
    notices = args.notices if args.notices == "all" else int(args.notices)

    from fmaudit.engine.pipeline import default_cache_dir, plan, score_test_split, train
    from fmaudit.plugins.context import AuditContext

    the_plan = plan(SPEC)
    spec, data = the_plan.loaded.spec, the_plan.data
    params = the_plan.params["explanations"]
    plugin = the_plan.plugins["explanations"]
    trainings = {"DP model": spec.training, "no-DP twin": spec.training.model_copy(update={"privacy": None})}
    for label, training in trainings.items():
        classifier, record = train(the_plan, training, cache_dir=default_cache_dir(), show_progress=False)
        context = AuditContext(
            spec=spec,
            data=data,
            model=classifier,
            predictions=score_test_split(the_plan, classifier, show_progress=False),
            training=record,
            work_dir=default_cache_dir() / "work",
            show_progress=False,
            plan=the_plan.audit_plan,
        )
        seconds, cpu = {}, {}
        for count in (0, notices):
            started, cpu_started = time.perf_counter(), time.process_time()
            findings = plugin.run(context, params.model_copy(update={"notices": count}))
            seconds[count], cpu[count] = time.perf_counter() - started, time.process_time() - cpu_started
        adverse = int((context.predictions.decisions == 0).sum())
        table = next(t for t in findings.tables if "adverse-action notices" in t.title.lower())
        figures = {m.path.rsplit(".", 1)[-1]: m.value for m in findings.metrics}
        unfaithful = figures.get("unfaithful_share")
        passing = f"{1 - unfaithful:.1%}" if unfaithful is not None else "n/a"
        print(
            f"{label}: {adverse} adverse decisions, {len(table.rows)} notices; explanations {seconds[0]:.1f} s "
            f"without notices, {seconds[notices]:.1f} s with: notices step {seconds[notices] - seconds[0]:.1f} s "
            f"(CPU time {cpu[notices] - cpu[0]:.1f} s); "
            f"check passed by {passing}; notices table {len(json.dumps(asdict(table), indent=2)) / 1024:.1f} KiB "
            "in findings.json"
        )


if __name__ == "__main__":
    main()
