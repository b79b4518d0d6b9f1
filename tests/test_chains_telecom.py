"""The shipped telecom pipeline (the seed's three-task chain), end to end on FakeLM and on the embedded model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from promptkit.chains import ChainResult, load_chain
from promptkit.lm import FakeCall, FakeLM

pytestmark = pytest.mark.usefixtures("memory_only_cache")


ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "pipelines" / "telecom_feedback.yaml"
FEEDBACK = (ROOT / "pipelines" / "data" / "telecom_feedback.txt").read_text(encoding="utf-8")
CATEGORIES = ("service reliability", "pricing concerns", "customer support quality", "others")
KEYWORDS = {
    "service reliability": ("dropped", "slow", "outage", "coverage"),
    "pricing concerns": ("charged", "price", "charges", "bill"),
    "customer support quality": ("support", "agent", "hold", "technician"),
}


def step_schemas() -> dict[str, Any]:
    """The JSON schemas as the spec states them (inline, or a file next to the spec)."""
    raw = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    schemas = {}
    for step in raw["steps"]:
        schema = step.get("schema")
        if isinstance(schema, str):
            schema = json.loads((SPEC.parent / schema).read_text(encoding="utf-8"))
        if schema is not None:
            schemas[step["name"]] = schema
    return schemas


def category_of(issue: str) -> str:
    lowered = issue.lower()
    return next((cat for cat, words in KEYWORDS.items() if any(w in lowered for w in words)), "others")


def telecom_answers(call: FakeCall) -> str:
    """A scripted analyst whose answers are computed from what each prompt actually contains."""
    prompt = call.last_user_message
    body = prompt.split("Input:", 1)[1]
    if prompt.startswith("Extract the main issues"):
        # one issue per comment: its first six words, separated by semicolons as the prompt asks
        return "; ".join(" ".join(line.split()[:6]) for line in body.strip().splitlines())
    if prompt.startswith("Classify the extracted issues"):
        issues = re.findall(r"^- (.+)$", body, re.MULTILINE)
        return "```json\n" + json.dumps({issue: category_of(issue) for issue in issues}) + "\n```"
    if prompt.startswith("Generate detailed recommendations"):
        found = sorted(set(re.findall(r"^- \[([^\]]+)\]", body, re.MULTILINE)) | set(CATEGORIES[:3]))
        return json.dumps({cat: f"Address {cat}: act on the {cat} issues customers raised." for cat in found})
    raise AssertionError(f"unexpected prompt: {prompt[:80]!r}")


def run_on_fake() -> tuple[ChainResult, FakeLM]:
    fake = FakeLM(fn=telecom_answers)
    return load_chain(SPEC).run(fake, feedback=FEEDBACK), fake


def test_telecom_chain_runs_end_to_end_on_fake_lm() -> None:
    result, fake = run_on_fake()
    assert len(fake.calls) == 3
    extract, classify, recommend = result["extract"], result["classify"], result["recommend"]

    # task 1 sees the feedback; its semicolon list becomes one item per comment
    assert FEEDBACK.strip() in extract.messages[-1]["content"]
    assert len(extract.output) == len([line for line in FEEDBACK.splitlines() if line.strip()])
    # task 2's prompt contains every issue task 1 produced
    for issue in extract.output:
        assert f"- {issue}" in classify.messages[-1]["content"]
    assert set(classify.output) == set(extract.output)
    # task 3's prompt contains every issue and category task 2 produced
    for issue, category in classify.output.items():
        assert f"- [{category}] {issue}" in recommend.messages[-1]["content"]
    assert set(classify.output.values()) <= set(recommend.output)

    schemas = step_schemas()
    assert set(schemas) == {"classify", "recommend"}
    jsonschema.validate(classify.output, schemas["classify"])
    jsonschema.validate(recommend.output, schemas["recommend"])
    assert all(s.retries == 0 for s in result)


def test_telecom_result_json_shape() -> None:
    result, fake = run_on_fake()
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"chain", "model", "inputs", "output", "output_steps", "tokens", "latency", "steps"}
    assert data["chain"] == "telecom_feedback" and data["model"] == fake.model
    assert data["output_steps"] == ["classify", "recommend"]
    assert data["output"] == {"classify": result["classify"].output, "recommend": result["recommend"].output}
    assert [step["name"] for step in data["steps"]] == ["extract", "classify", "recommend"]
    for step, call in zip(data["steps"], fake.calls, strict=True):
        assert step["messages"] == call.messages  # exactly what the LM received
        assert step["raw"] == call.reply
        assert step["tokens"]["prompt"] == len(call.prompt.split()) and step["tokens"]["total"] > 0
        assert step["latency"] >= 0 and len(step["template_version"]) == 12
        assert step["template"] == f"telecom_feedback/{step['name']}.j2"
    assert data["tokens"]["total"] == sum(step["tokens"]["total"] for step in data["steps"])


@pytest.mark.local
@pytest.mark.slow
def test_telecom_chain_on_the_embedded_model() -> None:
    """SmolLM2-135M writes poor content, but schema-constrained decoding makes both JSON steps parse."""
    pytest.importorskip("llama_cpp", reason="the embedded model needs llama-cpp-python: pip install 'promptkit[local]'")
    try:
        import promptkit.lm.local  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"promptkit.lm.local cannot be imported: {exc}")
    from promptkit.adapter import structured_mode
    from promptkit.lm import lm

    local = lm("local", max_tokens=192)
    assert structured_mode(local) != "none"  # the engine compiles the schema to a grammar
    result = load_chain(SPEC).run(local, feedback=FEEDBACK)
    schemas = step_schemas()
    jsonschema.validate(result["classify"].output, schemas["classify"])
    jsonschema.validate(result["recommend"].output, schemas["recommend"])
    assert result["extract"].output and all(isinstance(item, str) for item in result["extract"].output)
    assert all(s.prompt_tokens > 0 and s.completion_tokens > 0 for s in result)
    json.dumps(result.to_dict())
