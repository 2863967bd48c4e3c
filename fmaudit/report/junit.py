"""junit.xml: one test case per gate, for CI systems (GitLab, GitHub Actions reporters) that read JUnit XML."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from fmaudit.report.reading import GateOutcome, format_number, gate_outcomes, interval_text
from fmaudit.report.schema import FindingsDocument


def render_junit(document: FindingsDocument) -> bytes:
    """A <testsuites> with one <testsuite> for the run: ``classname`` fmaudit.<plugin>, ``name`` the gated path.

    A failed gate carries a <failure> with the observed value, its interval and the threshold. A run without
    gates gives an empty suite (no test case), which reporters show as "no tests" rather than a pass.
    """
    outcomes = gate_outcomes(document)
    failures = sum(not outcome.passed for outcome in outcomes)
    counts = {"tests": str(len(outcomes)), "failures": str(failures), "errors": "0", "skipped": "0"}
    root = ET.Element("testsuites", {"name": "fmaudit", **counts, "time": f"{document['seconds']:.1f}"})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": f"fmaudit.{document['name']}",
            **counts,
            "time": f"{document['seconds']:.1f}",
            "timestamp": document["provenance"]["timestamp"].removesuffix("+00:00"),
        },
    )
    properties = ET.SubElement(suite, "properties")
    provenance = document["provenance"]
    for name, value in (
        ("spec_name", document["name"]),
        ("run_id", provenance["run_id"]),
        ("verdict", document["verdict"] or "none"),
        ("redacted", "yes" if document.get("redacted") else "no"),
        ("model_weights_sha256", provenance["weights_sha256"]),
        ("spec_sha256", provenance["spec_sha256"]),
        ("data_sha256", provenance["data_sha256"]),
        ("fmaudit_version", provenance["versions"].get("fmaudit", "")),
        *seed_properties(document.get("replicas")),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    for outcome in outcomes:
        case = ET.SubElement(
            suite, "testcase", {"classname": f"fmaudit.{outcome.plugin}", "name": outcome.gate.path, "time": "0"}
        )
        if not outcome.passed:
            message = failure_message(outcome)
            failure = ET.SubElement(case, "failure", {"message": message, "type": "GateFailed"})
            failure.text = f"gate: {outcome.gate.text}\n{message}\n"
        ET.SubElement(case, "system-out").text = f"gate: {outcome.gate.text}; {observed_text(outcome)}"
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def seed_properties(replicas: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The seed replicas' seeds and the gates whose verdict differs on one of them (none without replicas)."""
    if not replicas:
        return []
    return [
        ("seed_replicas", ",".join(map(str, replicas["seeds"]))),
        ("seed_dependent_gates", "; ".join(replicas["seed_dependent_gates"])),
    ]


def observed_text(outcome: GateOutcome) -> str:
    """``observed 0.612 [0.55, 0.67]`` (the interval of the gated figure, when it has one)."""
    interval = interval_text(outcome.figure)
    return f"observed {format_number(outcome.observed, 4)}" + (f" {interval}" if interval else "")


def failure_message(outcome: GateOutcome) -> str:
    """Why a gate failed, in one line: observed value, interval, threshold, and any recorded reason."""
    gate = outcome.gate
    text = f"{observed_text(outcome)}; required {gate.op} {gate.threshold:g}"
    return text + "".join(f" ({note})" for note in outcome.notes)
