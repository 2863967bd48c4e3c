"""Benchmark: one attack recipe on the same test rows through fmaudit vs. TextAttack's own ``Attacker``
with ``HuggingFaceModelWrapper`` defaults, same fine-tuned model (the demo's, from the model cache, or
trained once).

fmaudit's side is what the robustness plugin runs: its memoised, dynamically padded victim under
``torch.inference_mode`` in worker processes with one thread each, scoring a head-only model from the shared
encoder cache (run twice: the first run fills it, the second reads every query back), without its domain constraints
(they would change what is attacked). TextAttack's side pads every query to the tokenizer's
``model_max_length``. Both truncate at that same length, so both score the same token sequences. Prints
both wall times, the ratio, and whether every example's outcome (result type, perturbed text,
queries) is identical.

For a deterministic recipe (PWWSRen2019, TextFoolerGloVe) TextAttack runs one ``Attacker`` over all
rows; for a random one (DeepWordBugGao2018, Pruthi2019) one ``Attacker`` per row seeded as fmaudit seeds
that row, since fmaudit seeds each example on its own.

    python bench/robustness_speed.py [--spec audits/credit.yaml] [--recipe PWWSRen2019] [--examples 50]
                                     [--query-budget 300] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from fmaudit.core.offline import prepare_textattack, provision_wordnet
from fmaudit.engine.pipeline import default_cache_dir, plan, train

DETERMINISTIC = {"PWWSRen2019", "TextFoolerGloVe"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="audits/credit.yaml")
    parser.add_argument("--recipe", default="PWWSRen2019")
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--query-budget", type=int, default=300)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    nltk_dir = Path(tempfile.mkdtemp(prefix="fmaudit-bench-")) / "nltk_data"
    prepare_textattack(nltk_dir)
    missing = provision_wordnet(nltk_dir)
    if missing and args.recipe == "PWWSRen2019":
        raise SystemExit(f"PWWSRen2019 needs WordNet: {missing}")

    import textattack
    from textattack.models.wrappers import HuggingFaceModelWrapper

    from fmaudit.families.robustness.embeddings import glove_embedding
    from fmaudit.families.robustness.recipe_spec import recipe_definition
    from fmaudit.families.robustness.recipes import BuiltAttack, Resources, build_attack, quiet_textattack
    from fmaudit.families.robustness.victim import Victim
    from fmaudit.families.robustness.workers import Example, example_seed, run_attacks, worker_count
    from fmaudit.models.encodings import totals as encoder_totals
    from fmaudit.models.pooling import resolve_pooling
    from fmaudit.models.text import TextClassifier
    from fmaudit.training.fine_tuning import share_encodings
    from fmaudit.training.records import Origin

    the_plan = plan(args.spec)
    data = the_plan.data
    spec = the_plan.loaded.spec
    trained, record = train(the_plan, spec.training, cache_dir=default_cache_dir(), show_progress=False)
    assert isinstance(trained, TextClassifier), "the robustness bench attacks a text model"
    model, tokenizer = trained.model, trained.tokenizer
    length = tokenizer.model_max_length if tokenizer.model_max_length < 10**6 else 512
    classifier = TextClassifier(model, tokenizer, max_length=length)  # truncate where HF's wrapper does
    if trained.encodings is not None:  # a head-only model scores from the shared encoder cache, as in a run
        origin = Origin(record.base_model, record.base_model_dir, record.base_model_sha256)
        pooling = resolve_pooling(spec.model.pooling, Path(record.base_model_dir))
        share_encodings(classifier, origin, pooling=pooling, cache_dir=default_cache_dir() / "models")

    rng = np.random.default_rng(args.seed)
    test = data.test_idx
    rows = np.sort(rng.choice(test, size=min(args.examples, len(test)), replace=False))
    examples = [Example(int(r), data.texts[int(r)], int(data.labels[int(r)])) for r in rows]
    resources = Resources()
    definition = recipe_definition(args.recipe, {})
    if definition is not None and "glove" in definition.resources:
        resources.glove = glove_embedding([e.text for e in examples], k=50)

    def build(victim: object) -> BuiltAttack:
        """The recipe as TextAttack builds it: no domain constraints, the same query budget."""
        return build_attack(
            args.recipe,
            custom={},
            victim=victim,
            resources=resources,
            protection=None,
            reject_antonyms=False,
            query_budget=args.query_budget,
        )

    workers = worker_count(args.workers, len(examples))
    print(
        f"{args.recipe} on {len(examples)} test rows of {args.spec}, query budget {args.query_budget}, "
        f"truncation {length} tokens, {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    ours = run_attacks(
        {args.recipe: build(Victim(classifier))}, examples, seed=args.seed, time_limit=None, workers=workers
    )
    fmaudit_seconds = time.perf_counter() - started
    outcomes = ours[args.recipe][0]
    work = encoder_totals()
    print(f"fmaudit:    {fmaudit_seconds:8.1f} s  ({workers} worker processes x 1 thread)")
    print(f"            encoder cache: {work.texts} distinct texts, {work.encoded} encoded, the rest read back")

    started = time.perf_counter()
    stock = build(HuggingFaceModelWrapper(model, tokenizer)).attack
    theirs = []
    batches = [examples] if args.recipe in DETERMINISTIC else [[e] for e in examples]
    for batch in batches:
        attack_args = textattack.AttackArgs(
            num_examples=len(batch),
            query_budget=args.query_budget,
            random_seed=args.seed if len(batch) > 1 else example_seed(args.seed, batch[0].row),
            silent=True,
            disable_stdout=True,
            checkpoint_interval=None,
        )
        dataset = textattack.datasets.Dataset([(e.text, e.label) for e in batch])
        with quiet_textattack():
            theirs += textattack.Attacker(stock, dataset, attack_args).attack_dataset()
    textattack_seconds = time.perf_counter() - started
    mode = "one Attacker" if len(batches) == 1 else "one Attacker per row, seeded per row"
    print(f"TextAttack: {textattack_seconds:8.1f} s  (HuggingFaceModelWrapper defaults, {mode})")
    print(f"ratio:      {textattack_seconds / fmaudit_seconds:8.2f}x")

    same = [
        type(o.result) is type(r)
        and o.result.perturbed_result.attacked_text.text == r.perturbed_result.attacked_text.text
        and o.result.perturbed_result.num_queries == r.perturbed_result.num_queries
        for o, r in zip(outcomes, theirs, strict=True)
    ]
    statuses = {s: sum(o.status == s for o in outcomes) for s in sorted({o.status for o in outcomes})}
    print(f"outcomes:   {statuses}")
    print(f"identical per-example outcomes: {sum(same)}/{len(same)}")
    if not all(same):
        for o, ok in zip(outcomes, same, strict=True):
            if not ok:
                print(f"  differs: row {o.row}")


if __name__ == "__main__":
    main()
