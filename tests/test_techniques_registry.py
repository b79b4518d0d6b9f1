"""The registry: metadata for every technique, lookups and typed errors, templates that load, builders
that build, and every technique that fits question -> answer running end to end on FakeLM."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import dspy
import pytest

from promptkit import techniques
from promptkit.adapter import TemplateAdapter
from promptkit.errors import InputError
from promptkit.prompts import bundled_templates_dir, default_env
from promptkit.techniques.sandbox import detect_sandbox

ALL = techniques.list()
IDS = [t.id for t in ALL]
MISSION = {"vanilla", "cot_zeroshot", "cot_fewshot", "self_consistency", "react", "react_native", "chained_tasks"}
AT_LEAST = {
    "least_to_most",
    "plan_and_solve",
    "step_back",
    "analogical",
    "thread_of_thought",
    "system2_attention",
    "chain_of_verification",
    "self_refine",
    "contrastive_cot",
    "ensemble_refinement",
    "tree_of_thoughts",
    "metacognitive",
    "rephrase_and_respond",
    "skeleton_of_thought",
    "program_of_thought",
    "pal",
}


def test_the_registry_has_every_technique_the_issue_names() -> None:
    assert set(IDS) >= MISSION | AT_LEAST
    assert len(set(IDS)) == len(IDS)
    assert len(IDS) >= 20


@pytest.mark.parametrize("info", ALL, ids=IDS)
def test_metadata_is_complete(info: techniques.TechniqueInfo) -> None:
    assert info.family in techniques.FAMILIES
    assert re.fullmatch(r"\d{4}\.\d{4,5}", info.arxiv), info.arxiv
    assert info.paper and info.authors and 2017 < info.year < 2030
    assert info.calls and info.description and info.name
    assert info.url == f"https://arxiv.org/abs/{info.arxiv}"
    assert info.load().technique_id == info.id


@pytest.mark.parametrize("info", [t for t in ALL if t.templates], ids=[t.id for t in ALL if t.templates])
def test_every_listed_template_exists_and_loads(info: techniques.TechniqueInfo) -> None:
    env = default_env()
    for name in info.templates:
        assert (bundled_templates_dir() / name).is_file(), name
        template = env.get(name)
        assert template.description, f"{name} has no description in its front matter"


def test_every_technique_template_is_listed_by_some_technique() -> None:
    listed = {name for t in ALL for name in t.templates}
    on_disk = {
        str(p.relative_to(bundled_templates_dir())) for p in (bundled_templates_dir() / "techniques").rglob("*.j2")
    }
    partials = {name for name in on_disk if "/_partials/" in name}
    assert on_disk - partials <= listed, sorted(on_disk - partials - listed)


def test_get_accepts_aliases_and_normalizes() -> None:
    assert techniques.get("ToT").id == "tree_of_thoughts"
    assert techniques.get("cot-zeroshot").id == "cot_zeroshot"
    assert techniques.get("s2a").id == "system2_attention"


def test_unknown_technique_lists_close_matches() -> None:
    with pytest.raises(InputError) as caught:
        techniques.get("self_consistancy")
    assert "self_consistency" in str(caught.value) and "techniques list" in str(caught.value)
    with pytest.raises(InputError, match="unknown technique 'zzz'"):
        techniques.build("zzz")


def test_list_filters_by_family() -> None:
    ensembling = techniques.list("ensembling")
    assert {t.id for t in ensembling} == {"self_consistency", "ensemble_refinement", "federated_sc", "mathprompter"}
    with pytest.raises(InputError, match="unknown technique family"):
        techniques.list("magic")


def test_unknown_option_names_the_accepted_ones() -> None:
    with pytest.raises(InputError) as caught:
        techniques.build("self_consistency", n_samples=3)
    assert "n_samples" in str(caught.value) and "temperature" in str(caught.value)


@pytest.mark.parametrize("technique_id", ["react", "react_native", "chained_tasks"])
def test_missing_required_option_is_a_typed_error(technique_id: str) -> None:
    info = techniques.get(technique_id)
    assert not info.fits_question_answer
    with pytest.raises(InputError, match="needs option"):
        techniques.build(technique_id)


def test_a_signature_that_does_not_parse_is_a_typed_error() -> None:
    with pytest.raises(InputError, match="not valid"):
        techniques.build("vanilla", "question answer")


def test_importing_the_registry_does_not_import_dspy() -> None:
    probe = "import sys, promptkit.techniques as t; t.list(); t.get('react'); print('dspy' in sys.modules)"
    root = Path(__file__).parents[1]
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root)
    assert result.stdout.strip() == "False", result.stderr


def _program_answer(call: Any) -> dict[str, Any]:
    """A FakeLM reply for any step of any technique asked ``question -> answer``."""
    fields = call.output_fields
    if "code" in fields:
        return {"code": "def solution():\n    return 42\nans = 42"}
    values: dict[str, Any] = {}
    for name in fields:
        annotation = call.signature.output_fields[name].annotation if call.signature is not None else str
        if name == "is_good":
            values[name] = True
        elif name == "evaluation":
            values[name] = "likely"
        elif annotation == list[str]:
            values[name] = ["first point"]
        else:
            values[name] = f"{name} text"
    return values


QA_IDS = [t.id for t in ALL if t.fits_question_answer]


@pytest.mark.parametrize("technique_id", QA_IDS)
def test_every_question_answer_technique_runs_end_to_end(technique_id: str, fake_lm: Any) -> None:
    """What ``promptkit ask --technique ID`` does: build(id) over question -> answer, run it on a FakeLM."""
    info = techniques.get(technique_id)
    if "code interpreter" in info.needs and detect_sandbox() is None:
        pytest.skip("no sandbox on this machine (the refusal is tested in test_techniques_program.py)")
    lm = fake_lm(fn=_program_answer, adapter=TemplateAdapter())
    program = techniques.build(technique_id)
    assert isinstance(program, dspy.Module)
    prediction = program(question="What is six times seven?")
    assert prediction.answer not in (None, "")
    assert lm.calls, "the technique made no LM call"
    # Every step's instructions came from a technique template: they all restate the user's task.
    for _, predictor in program.named_predictors():
        if predictor.signature.input_fields.keys() >= {"question"}:
            assert "Given the fields `question`" in predictor.signature.instructions
