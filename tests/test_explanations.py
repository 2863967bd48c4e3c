"""Explanations: Captum's completeness holds for our token attributions, and tokens map to template fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fmaudit.data import serialise
from fmaudit.model import TextClassifier, load_pretrained
from fmaudit.plugins.explanations import TEMPLATE_TEXT, ExplanationsParams, field_of_token, token_attributions


def test_tokens_map_to_the_field_whose_value_they_came_from() -> None:
    out = serialise({"purpose": "car (new)", "age": 31}, "purpose: {purpose}; age: {age}")
    start = out.text.index("car")
    assert field_of_token(start, start + 3, out.spans) == "purpose"
    assert field_of_token(0, 7, out.spans) == TEMPLATE_TEXT
    age = out.text.index("31")
    assert field_of_token(age, age + 2, out.spans) == "age"


def test_attributions_are_complete_up_to_captums_convergence_delta(tiny_bert: Path) -> None:
    """Integrated Gradients' completeness: attributions sum to f(input) - f(baseline), the gap being Captum's delta."""
    model, tokenizer = load_pretrained(tiny_bert)
    classifier = TextClassifier(model, tokenizer, max_length=32)
    texts = ["checking account: none; purpose: car", "savings: little; duration: 24 months; age: 40"]
    attributions, deltas, encoded = token_attributions(classifier, texts, ExplanationsParams(n_steps=64))

    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    baseline = torch.where(special, ids, torch.full_like(ids, tokenizer.pad_token_id))
    with torch.inference_mode():
        f_input = torch.softmax(model(input_ids=ids, attention_mask=mask).logits, -1)[:, 1].numpy()
        f_base = torch.softmax(model(input_ids=baseline, attention_mask=mask).logits, -1)[:, 1].numpy()
    totals = attributions.sum(axis=1)
    assert np.allclose(totals - (f_input - f_base), deltas, atol=1e-5)
    assert np.abs(deltas).max() < 0.05 * max(np.abs(f_input - f_base).max(), 1e-3) + 1e-4
    # Padding and special tokens carry no attribution.
    assert (attributions[special.numpy() | ~mask.bool().numpy()] == 0).all()


def test_integration_steps_must_be_at_least_two() -> None:
    with pytest.raises(ValueError, match="n_steps"):
        ExplanationsParams(n_steps=1)


def test_field_shares_average_over_every_explained_row() -> None:
    """A field absent from a row counts as zero there, wherever in the sample that row sits."""
    from fmaudit.plugins.explanations import mean_field_shares

    shares = mean_field_shares([{"a": 1.0}, {"a": 0.5, "b": 0.5}])
    assert shares == {"a": 0.75, "b": 0.25}
    assert sum(shares.values()) == 1.0
