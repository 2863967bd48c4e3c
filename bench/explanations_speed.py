"""Benchmark: Integrated Gradients for 200 test rows of the demo model (audits/credit.yaml), n_steps 50.

Naive: one row at a time, the plain Captum call (LayerIntegratedGradients.attribute with its defaults, the
model's weights still requiring gradients). fmaudit: rows attributed together, interpolation steps batched
(``internal_batch_size``), weights' gradients switched off (only input gradients are needed). Both use the
same reference-applicant baseline; the script prints rows/second for each, the speed-up, and the largest
difference between the two sets of token attributions (they must agree to 1e-5).

Run: .venv/bin/python bench/explanations_speed.py [--rows 200] [--chunk 2] [--internal-batch-size 50]
(trains and caches the demo model first if it is not cached yet).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SPEC = Path(__file__).resolve().parent.parent / "audits" / "credit.yaml"
N_STEPS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=2, help="rows attributed together by fmaudit")
    parser.add_argument("--internal-batch-size", type=int, default=50, help="interpolation steps per forward pass")
    args = parser.parse_args()

    from captum.attr import LayerIntegratedGradients

    from fmaudit.data import template_fields
    from fmaudit.engine.pipeline import default_cache_dir, plan, train
    from fmaudit.families.explanations.fields import field_model, integrated_gradients
    from fmaudit.families.explanations.reference import reference_applicant

    the_plan = plan(SPEC)
    spec, data = the_plan.loaded.spec, the_plan.data
    classifier, _ = train(the_plan, spec.training, cache_dir=default_cache_dir(), show_progress=False)
    fields = template_fields(spec.data.template)
    test = data.frame.iloc[data.test_idx][fields].reset_index(drop=True)
    reference = reference_applicant(test, np.ones(len(test)), threshold=0.5, basis="all", band=1.0).record
    explained = field_model(classifier, data, fields=fields, reference=reference, template=spec.data.template)
    rows = data.test_idx[: args.rows]
    # Longest rows first, so the rows attributed together pad to similar lengths.
    lengths = np.array([len(classifier.tokenizer(data.texts[i])["input_ids"]) for i in rows])  # type: ignore[attr-defined]
    ordered = rows[np.argsort(-lengths, kind="stable")]

    started = time.perf_counter()
    naive = {}
    for row in rows:
        batch = explained.build(np.array([row]))
        lig = LayerIntegratedGradients(explained.forward, explained.layer)
        attributions = lig.attribute(
            inputs=batch.inputs, baselines=batch.baselines, additional_forward_args=batch.extra, n_steps=N_STEPS
        )
        naive[int(row)] = attributions.sum(dim=-1).detach().numpy()[0]
    naive_seconds = time.perf_counter() - started

    started = time.perf_counter()
    batched = {}
    for start in range(0, len(ordered), args.chunk):
        chunk = ordered[start : start + args.chunk]
        batch = explained.build(chunk)
        positions, _ = integrated_gradients(
            explained, batch, n_steps=N_STEPS, internal_batch_size=args.internal_batch_size
        )
        for k, row in enumerate(chunk):
            batched[int(row)] = positions[k]
    batched_seconds = time.perf_counter() - started

    gap = 0.0
    for row, own in naive.items():
        together = batched[row]
        gap = max(
            gap, float(np.abs(together[: len(own)] - own).max()), float(np.abs(together[len(own) :]).max(initial=0))
        )
    print(f"Integrated Gradients, {len(rows)} rows of the demo model, n_steps {N_STEPS}")
    print(f"naive one row at a time:  {naive_seconds:7.1f} s  {len(rows) / naive_seconds:6.2f} rows/s")
    print(
        f"fmaudit (chunks of {args.chunk}, internal batch {args.internal_batch_size}, no weight gradients): "
        f"{batched_seconds:7.1f} s  {len(rows) / batched_seconds:6.2f} rows/s"
    )
    print(f"speed-up: {naive_seconds / batched_seconds:.2f}x")
    print(f"largest attribution difference: {gap:.2e} ({'within' if gap <= 1e-5 else 'OUTSIDE'} 1e-5)")


if __name__ == "__main__":
    main()
