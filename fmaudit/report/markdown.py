"""summary.md: the verdict, gates and headline figures, short enough for a pull-request comment."""

from __future__ import annotations

from typing import Any

from fmaudit.report.reading import Figure, figures, format_number, gate_outcomes, interval_text
from fmaudit.report.schema import FindingsDocument

HEADLINES = 12
"""At most this many headline figures: the gated ones first, then each section's top-level figures."""


def render_markdown(document: FindingsDocument, links: tuple[str, ...] = ("report.html", "findings.json")) -> bytes:
    """The summary as Markdown; ``links`` are the run's other files (relative paths), listed at the end."""
    provenance = document["provenance"]
    verdict = {"pass": "✅ all gates pass", "fail": "❌ gates failed", None: "no verdict (non-private twin)"}
    monitored = document.get("monitored_run")
    command = "fmaudit monitor" if monitored else "fmaudit"
    lines = [
        f"## {command}: {document['name']} — {verdict[document['verdict']]}",
        "",
        *(
            [f"Monitoring {document['data']['rows']} current rows against audited run `{monitored['run_id']}`.", ""]
            if monitored
            else []
        ),
        f"Run `{provenance['run_id']}` · model weights `{provenance['weights_sha256'][:12]}` · "
        f"fmaudit {provenance['versions'].get('fmaudit', '?')}"
        + (" · **redacted** (no applicant-level content)" if document.get("redacted") else ""),
        "",
    ]
    outcomes = gate_outcomes(document)
    if outcomes:
        lines += ["| Gate | Observed | 95% interval | Result |", "| --- | ---: | --- | --- |"]
        for outcome in outcomes:
            result = ("pass" if outcome.passed else "**FAIL**") + "".join(f" ({cell(n)})" for n in outcome.notes)
            lines.append(
                f"| `{outcome.gate.text}` | {format_number(outcome.observed, 4)} | {interval_text(outcome.figure)} "
                f"| {result} |"
            )
    else:
        lines.append("No gates were declared: the run cannot fail on a threshold.")
    lines += ["", "| Headline figure | Value | 95% interval |", "| --- | ---: | --- |"]
    for figure in headline_figures(document):
        lines.append(
            f"| {figure.label} (`{figure.path}`) | {format_number(figure.value, 3)} | {interval_text(figure)} |"
        )
    lines.append("")
    lines += seed_spread_lines(document.get("replicas"))
    lines += [f"- **{section['title']}**: {section['summary']}" for section in document["sections"]]
    lines += ["", "Full report: " + " · ".join(f"[{link}]({link})" for link in links), ""]
    return "\n".join(lines).encode("utf-8")


def seed_spread_lines(replicas: dict[str, Any] | None) -> list[str]:
    """The spread across training seeds as a compact table (none without ``training.seed_replicas``)."""
    if not replicas:
        return []
    lines = [
        f"| Across seeds (audited: seed {replicas['audited_seed']}; replicas: {', '.join(map(str, replicas['seeds']))})"
        " | Audited | Min | Median | Max | Gate verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in replicas["rows"]:
        verdict = row["verdict_text"]
        if row["verdict_differs"]:
            verdict = f"**differs on seed {', '.join(map(str, row['flipped_seeds']))}**: " + "; ".join(
                f"`{check['gate']}` reads {format_number(check['audited']['observed'], 3)} here, "
                + ", ".join(f"{format_number(f['observed'], 3)} on seed {f['seed']}" for f in check["flipped"])
                for check in row["gate_checks"]
                if check["flipped"]
            )
        figures = " | ".join(format_number(row[k], 3) for k in ("audited", "min", "median", "max"))
        lines.append(f"| `{row['path']}` | {figures} | {verdict} |")
    return [*lines, ""]


def headline_figures(document: FindingsDocument) -> list[Figure]:
    """Gated figures, then top-level figures with an interval (``plugin.metric``), at most HEADLINES."""
    known = figures(document)
    chosen = [outcome.figure for outcome in gate_outcomes(document) if outcome.figure is not None]
    chosen += [f for path, f in known.items() if path.count(".") == 1 and f.has_interval]
    unique = list(dict.fromkeys(chosen))
    return unique[:HEADLINES]


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: a '|' would end the cell, a newline the row."""
    return text.replace("|", "\\|").replace("\n", " ")
