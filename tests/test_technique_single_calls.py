"""chain_of_event, term_definitions, guideline_error_analysis: one call each, whose prompt carries the paper's
components (stages, definitions, guideline / error rules / annotated demos)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkit import techniques
from promptkit.errors import DataError, InputError

GLOSSARY = {"dyspnea": "shortness of breath", "tachycardia": "a resting heart rate above 100", "edema": "swelling"}


def test_chain_of_event_writes_the_four_stages_in_order(fake: Any) -> None:
    lm = fake([{"events": "e", "generalized_events": "g", "common_events": "c (2 documents)", "summary": "s"}])
    prediction = techniques.build("chain_of_event", "documents -> summary")(documents="Doc 1 ... Doc 2 ...")
    assert lm.calls[0].output_fields == ["events", "generalized_events", "common_events", "summary"]
    assert "common events only" in lm.calls[0].prompt
    assert prediction.summary == "s" and prediction.common_events == "c (2 documents)"


def test_term_definitions_from_a_glossary_only_the_terms_used(fake: Any) -> None:
    lm = fake([{"answer": "check oxygen"}])
    program = techniques.build("term_definitions", glossary=GLOSSARY)
    prediction = program(question="A patient with Dyspnea and tachycardia: what first?")
    sent = lm.calls[0].inputs["term_definitions"]
    assert sent == "dyspnea: shortness of breath\ntachycardia: a resting heart rate above 100"
    assert prediction.answer == "check oxygen" and prediction.term_definitions == sent
    everything = techniques.build("term_definitions", glossary=GLOSSARY, all_terms=True)
    assert everything.definitions({"question": "nothing"}).count("\n") == 2


def test_term_definitions_without_a_glossary_the_model_defines_them_first(fake: Any) -> None:
    lm = fake([{"term_definitions": "dyspnea: breathlessness", "answer": "a"}])
    techniques.build("term_definitions")(question="dyspnea?")
    assert lm.calls[0].output_fields == ["term_definitions", "answer"]


def test_term_definitions_glossary_file_and_errors(tmp_path: Path, fake: Any) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text("edema: swelling\n", encoding="utf-8")
    lm = fake([{"answer": "a"}])
    techniques.build("term_definitions", glossary=str(path))(question="Edema in both legs")
    assert lm.calls[0].inputs["term_definitions"] == "edema: swelling"
    bad = tmp_path / "bad.yaml"
    bad.write_text("edema: [swelling\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        techniques.build("term_definitions", glossary=bad)
    assert caught.value.line == 1
    with pytest.raises(InputError, match="non-empty mapping"):
        techniques.build("term_definitions", glossary=["edema"])


def test_guideline_error_analysis_puts_the_four_components_in_the_prompt(fake: Any, tmp_path: Path) -> None:
    guideline = tmp_path / "guideline.txt"
    guideline.write_text("A problem is a disease, symptom or finding.", encoding="utf-8")
    demos = [{"text": "No fever, has cough.", "problems": "cough"}]
    lm = fake([{"problems": "shortness of breath"}])
    program = techniques.build(
        "guideline_error_analysis",
        "text -> problems",
        guideline=guideline,
        error_rules=["Do not tag negated findings."],
        output_format="a comma-separated list",
        demos=demos,
    )
    prediction = program(text="Denies chest pain; short of breath.")
    prompt = lm.calls[0].prompt
    for part in (
        "Output format: a comma-separated list",
        "A problem is a disease",
        "1. Do not tag negated findings.",
        "No fever, has cough.",
    ):
        assert part in prompt, part
    assert prediction.problems == "shortness of breath"


def test_guideline_error_analysis_checks_its_options() -> None:
    with pytest.raises(InputError, match="error_rules"):
        techniques.build("guideline_error_analysis", error_rules=["", "x"])
    with pytest.raises(InputError, match="demo #1 has no answer"):
        techniques.build("guideline_error_analysis", demos=[{"question": "q"}])
    with pytest.raises(DataError, match="guideline file not found"):
        techniques.build("guideline_error_analysis", guideline=Path("missing-guideline.txt"))
