"""The model card: a Hugging Face card (model-card/README.md, YAML front matter with ``model-index``) and a JSON
card in the Model Card Toolkit schema's shape (model-card/model-card.json), both from the findings document.

Evaluation results carry their slice (``attribute: group``) and interval bounds, in the Hugging Face card's
``metric_config`` / ``metric_args`` and in the JSON card's ``slice`` / ``confidence_interval``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmaudit.report.markdown import cell, headline_figures
from fmaudit.report.reading import Figure, figures, format_number, gate_outcomes, interval_text
from fmaudit.report.schema import FindingsDocument

GROUPS = ".groups."
MCT_SCHEMA_VERSION = "0.0.2"


@dataclass(frozen=True)
class CardMetric:
    """One evaluation result: a figure, its metric name and the data slice it was measured on."""

    figure: Figure
    metric: str
    slice: str


def card_metrics(document: FindingsDocument) -> list[CardMetric]:
    """Every measured figure with an interval, plus every other measured top-level figure (``plugin.metric``).

    ``fairness.sex.groups.female.tpr`` becomes metric ``fairness.tpr`` on slice ``sex: female``; figures
    outside a group are on the whole test split (slice ``overall``).
    """
    return [
        card_metric(figure)
        for path, figure in figures(document).items()
        if figure.value is not None and (figure.has_interval or path.count(".") == 1)
    ]


def card_metric(figure: Figure) -> CardMetric:
    """The figure with its metric name and slice (``sex: female`` for a group's figure, else ``overall``)."""
    if GROUPS not in figure.path:
        return CardMetric(figure, figure.path, "overall")
    head, _, tail = figure.path.partition(GROUPS)
    plugin, _, attribute = head.partition(".")
    group, _, metric = tail.partition(".")
    return CardMetric(figure, f"{plugin}.{metric}", f"{attribute.rpartition('.')[2]}: {group}")


def render_model_card(document: FindingsDocument) -> dict[str, bytes]:
    return {
        "model-card/README.md": huggingface_card(document).encode("utf-8"),
        "model-card/model-card.json": (json.dumps(toolkit_card(document), indent=2) + "\n").encode("utf-8"),
    }


def huggingface_card(document: FindingsDocument) -> str:
    """README.md with YAML front matter, built through huggingface_hub's ModelCard and ModelCardData."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    spec, data = document["resolved_spec"], document["data"]
    task = "tabular-classification" if spec["model"]["kind"] == "tabular" else "text-classification"
    dataset = Path(data["source"]).stem
    results = [
        EvalResult(
            task_type=task,
            dataset_type=dataset,
            dataset_name=f"{dataset} (test split, {data['test_rows']} rows)",
            dataset_split="test",
            metric_type=m.metric,
            metric_name=m.figure.label,
            metric_value=m.figure.value,
            metric_config=m.slice,
            metric_args={
                "path": m.figure.path,
                "better": m.figure.better,
                **(
                    {"ci_low": m.figure.ci_low, "ci_high": m.figure.ci_high, "confidence": 0.95}
                    if m.figure.has_interval
                    else {}
                ),
            },
        )
        # The front matter stays readable: the gated and headline figures; every figure is in model-card.json.
        for m in (card_metric(f) for f in headline_figures(document) if f.value is not None)
    ]
    card_data = ModelCardData(
        model_name=document["name"],
        base_model=None,
        pipeline_tag=task,
        tags=["fmaudit", "audit"] + (["differential-privacy"] if document["training"]["privacy"] else []),
        eval_results=results,
    )
    return str(ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{_body(document)}"))


def _model_details(training: dict[str, Any], provenance: dict[str, Any]) -> list[str]:
    """What the model is: fine-tuned by fmaudit from a base (its trained modules, its DP), or trained elsewhere."""
    run = f"audit run `{provenance['run_id']}`, fmaudit {provenance['versions'].get('fmaudit', '?')}"
    privacy = training["privacy"]
    if training.get("source_format"):
        return [
            f"- Model: {training['base_model']}, audited as it is",
            "- Differential privacy: not known; fmaudit did not train the model and cannot verify any privacy claim",
            f"- Model files SHA-256: `{provenance['weights_sha256']}`; {run}",
        ]
    return [
        f"- Base model: {training['base_model']}; trained modules: {', '.join(training['trained_modules'])} "
        f"({format_number(training['trainable_parameters'])} of {format_number(training['total_parameters'])} "
        "parameters)",
        f"- Differential privacy: DP-SGD, ε = {format_number(privacy['epsilon'])} at δ = {privacy['delta']}"
        if privacy
        else "- Differential privacy: none (no formal privacy guarantee)",
        f"- Fine-tuned weights SHA-256: `{provenance['weights_sha256']}`; {run}",
    ]


def _rows_known(training: dict[str, Any]) -> bool:
    """Whether the training rows are known: always for fmaudit's own models; declared for one trained elsewhere."""
    return not training.get("source_format") or bool(training["training_rows"])


def _how_split(training: dict[str, Any], split: dict[str, Any]) -> str:
    if not training.get("source_format"):
        return f"train the model (seeded split, seed {split['seed']})"
    if training["training_rows"]:
        return "trained the model, as the spec declares (model.source.trained_on)"
    return f"form the training split (seed {split['seed']}); which rows trained the model is not declared"


def _body(document: FindingsDocument) -> str:
    data, training, provenance = document["data"], document["training"], document["provenance"]
    split = document["resolved_spec"]["data"]["split"]
    sections = {s["plugin"]: s for s in document["sections"]}
    lines = [
        f"# Model card: {document['name']}",
        "",
        document["description"],
        "",
        "## Model details",
        "",
        *_model_details(training, provenance),
        "",
        "## Intended use",
        "",
        f"A binary decision (favourable = {data['favourable_label']}) on applications like those of the training "
        "data, as decision support reviewed by people. Out of scope: other populations or products than the data "
        "represents, and fully automated decisions about individuals without human review.",
        "",
        "## Training data",
        "",
        f"`{Path(data['source']).name}`: {format_number(data['rows'])} rows, of which "
        f"{format_number(data['train_rows'])} {_how_split(training, split)}; "
        f"favourable share {format_number(data['favourable_share'])}.",
        "",
        "## Evaluation data",
        "",
        f"The held-out test split: {format_number(data['test_rows'])} rows, "
        f"{'never seen in training' if _rows_known(training) else 'which the model may have seen in training'}. "
        "Groups "
        "(whole data set): "
        + "; ".join(
            f"{a}: " + ", ".join(f"{g} {n}" for g, n in sizes.items()) for a, sizes in data["group_sizes"].items()
        ),
        "",
        "## Quantitative analyses",
        "",
        *_metric_tables(document),
        "## Ethical considerations",
        "",
        *(f"- **{sections[p]['title']}**: {sections[p]['summary']}" for p in ("fairness", "privacy") if p in sections),
        "",
        "## Caveats and recommendations",
        "",
        *_caveats(document, sections),
        "",
    ]
    return "\n".join(lines)


def _metric_tables(document: FindingsDocument) -> list[str]:
    """Overall figures, then one table per slice group: value and 95% interval."""
    by_slice: dict[str, list[CardMetric]] = {}
    for m in card_metrics(document):
        by_slice.setdefault(m.slice, []).append(m)
    lines = []
    for name, metrics in by_slice.items():
        lines += [
            f"**{'Whole test split' if name == 'overall' else name}**",
            "",
            "| Metric | Value | 95% interval |",
            "| --- | ---: | --- |",
        ]
        lines += [
            f"| {cell(m.figure.label)} (`{m.metric}`) | {format_number(m.figure.value)} | {interval_text(m.figure)} |"
            for m in metrics
        ]
        lines.append("")
    return lines


def _caveats(document: FindingsDocument, sections: dict[str, Any]) -> list[str]:
    outcomes = gate_outcomes(document)
    failed = [o.gate.text for o in outcomes if not o.passed]
    verdict = (
        f"- Audit gates: {len(outcomes) - len(failed)} of {len(outcomes)} pass"
        + (f"; failed: {', '.join(f'`{g}`' for g in failed)}" if failed else "")
        if outcomes
        else "- No audit gates were declared."
    )
    notes = [
        f"- {note}" for plugin in ("fairness", "privacy") if plugin in sections for note in sections[plugin]["notes"]
    ]
    redacted = ["- This card comes from a redacted report: applicant-level examples are withheld."] * bool(
        document.get("redacted")
    )
    return [verdict, *redacted, *notes]


def toolkit_card(document: FindingsDocument) -> dict[str, Any]:
    """The card as JSON in the Model Card Toolkit schema's shape (values and bounds as strings, as it has them)."""
    data, training, provenance = document["data"], document["training"], document["provenance"]
    sections = {s["plugin"]: s for s in document["sections"]}
    return {
        "schema_version": MCT_SCHEMA_VERSION,
        "model_details": {
            "name": document["name"],
            "overview": document["description"],
            "version": {"name": provenance["run_id"]},
            "references": [],
        },
        "model_parameters": {
            "model_architecture": training["base_model"],
            "data": [
                {"name": "train", "link": data["source"], "sensitive": {"sensitive_data": list(data["group_sizes"])}},
                {"name": "test", "link": data["source"], "sensitive": {"sensitive_data": list(data["group_sizes"])}},
            ],
            "input_format": data["template"],
            "output_format": f"binary decision, favourable = {data['favourable_label']}",
        },
        "quantitative_analysis": {
            "performance_metrics": [
                {
                    "type": m.metric,
                    "value": str(m.figure.value),
                    "slice": m.slice,
                    **(
                        {
                            "confidence_interval": {
                                "lower_bound": str(m.figure.ci_low),
                                "upper_bound": str(m.figure.ci_high),
                            }
                        }
                        if m.figure.has_interval
                        else {}
                    ),
                }
                for m in card_metrics(document)
            ]
        },
        "considerations": {
            "use_cases": [{"description": f"decision support: favourable = {data['favourable_label']}"}],
            "limitations": [
                {"description": n} for p in ("fairness", "privacy") if p in sections for n in sections[p]["notes"]
            ],
            "ethical_considerations": [
                {
                    "name": f"{sections[p]['title']}: {sections[p]['summary']}",
                    "mitigation_strategy": _gated(document, p),
                }
                for p in ("fairness", "privacy")
                if p in sections
            ],
        },
    }


def _gated(document: FindingsDocument, plugin: str) -> str:
    """The gates that hold this plugin's figures to a threshold before release (the declared mitigation)."""
    gates = [o.gate.text for o in gate_outcomes(document) if o.plugin == plugin]
    return ("release gated on: " + "; ".join(gates)) if gates else "no gate declared on these figures"
