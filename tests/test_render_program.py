"""Rendering a program's prompts without an LM: ``promptkit.render_program`` and ``promptkit render --program``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from typer.testing import CliRunner

import promptkit
from promptkit import RAG, TemplateAdapter, render_program
from promptkit.adapter.mode import CURRENT_BUDGETS, CURRENT_MODE
from promptkit.cli import app
from promptkit.errors import InputError
from promptkit.optimize import save_program
from promptkit.programs.resolve import resolve_program
from tests.programs import Capital

REPO = Path(__file__).resolve().parent.parent
CHAIN = REPO / "pipelines" / "telecom_feedback.yaml"


def sent_by_adapter(predictor: Any, **inputs: Any) -> list[dict[str, Any]]:
    """What TemplateAdapter formats for ``predictor`` in a call without structured output or budgets.

    The mode and budgets are set as a call sets them: tests that call ``_choose_mode`` directly leave
    theirs in the context.
    """
    mode, budgets = CURRENT_MODE.set("markers"), CURRENT_BUDGETS.set({})
    try:
        return TemplateAdapter().format(predictor.signature, list(predictor.demos), inputs)
    finally:
        CURRENT_MODE.reset(mode)
        CURRENT_BUDGETS.reset(budgets)


def test_predict_renders_the_adapter_messages_with_the_given_values_and_no_lm_call(fake: Any) -> None:
    lm = fake()
    program = dspy.Predict("question -> answer")
    [rendered] = render_program(program, question="Why is the sky blue?")
    assert lm.calls == []
    assert rendered.name == "self"
    assert (rendered.inputs, rendered.outputs, rendered.placeholders) == (["question"], ["answer"], [])
    assert rendered.messages == sent_by_adapter(program, question="Why is the sky blue?")
    assert "Why is the sky blue?" in rendered.messages[-1]["content"]


def test_the_rendered_messages_are_the_ones_a_call_sends(fake: Any) -> None:
    lm = fake()  # echoes, in the format the adapter asks for
    program = dspy.Predict("question -> answer")
    [rendered] = render_program(program, question="Why is the sky blue?")
    program(question="Why is the sky blue?")
    assert [m["content"] for m in lm.calls[0].messages] == [m["content"] for m in rendered.messages]


def test_chain_of_thought_without_values_renders_placeholders_and_needs_no_lm() -> None:
    with dspy.context(lm=None):
        [rendered] = render_program(dspy.ChainOfThought("question -> answer"))
    assert rendered.placeholders == ["question"]
    assert rendered.outputs == ["reasoning", "answer"]
    assert "{question}" in rendered.messages[-1]["content"]
    assert "reasoning" in rendered.messages[0]["content"]


def test_a_technique_renders_every_predictor_in_order_later_inputs_as_placeholders(fake: Any) -> None:
    lm = fake()
    program = resolve_program("technique:plan_and_solve")
    rendered = render_program(program, question="What is 17 * 3?")
    assert lm.calls == []
    assert [r.name for r in rendered] == [name for name, _ in program.named_predictors()]
    assert len(rendered) >= 2
    first, last = rendered[0], rendered[-1]
    assert first.placeholders == []
    assert "question" in last.inputs and "question" not in last.placeholders
    assert last.placeholders  # fed by the first predictor's outputs at run time
    for name in last.placeholders:
        assert f"{{{name}}}" in last.messages[-1]["content"]
    assert all("What is 17 * 3?" in r.messages[-1]["content"] for r in rendered)


def test_rag_context_is_a_placeholder_and_the_retriever_is_not_called(fake: Any) -> None:
    lm = fake()
    searched: list[str] = []

    def retriever(query: str, k: int = 3) -> list[str]:
        searched.append(query)
        return ["a passage"]

    [rendered] = render_program(RAG(retriever), question="Who wrote Hamlet?")
    assert lm.calls == [] and searched == []
    assert rendered.placeholders == ["context"]
    assert "{context}" in rendered.messages[-1]["content"]
    assert "Who wrote Hamlet?" in rendered.messages[-1]["content"]


def test_a_chain_yaml_renders_each_step_later_steps_fed_by_placeholders(fake: Any) -> None:
    lm = fake()
    rendered = render_program(resolve_program(str(CHAIN)), feedback="The network dropped twice.")
    assert lm.calls == []
    assert [r.name for r in rendered] == ["extract", "classify", "recommend"]
    assert rendered[0].placeholders == []
    assert "The network dropped twice." in rendered[0].messages[-1]["content"]
    assert rendered[1].placeholders == ["issues"] and "{issues}" in rendered[1].messages[-1]["content"]
    assert rendered[2].placeholders == ["classification"]


def test_a_compiled_programs_instructions_and_demos_are_in_the_messages(tmp_path: Path) -> None:
    program = Capital()
    program.answer.signature = program.answer.signature.with_instructions("Name the capital city, nothing else.")
    program.answer.demos = [dspy.Example(question="Capital of Peru?", answer="Lima")]
    path = save_program(program, tmp_path / "program.json")

    [rendered] = render_program(resolve_program(path), question="Capital of Spain?")
    text = "\n".join(m["content"] for m in rendered.messages)
    assert "Name the capital city, nothing else." in text
    assert "Capital of Peru?" in text and "Lima" in text
    assert rendered.messages == sent_by_adapter(program.answer, question="Capital of Spain?")


def test_an_unknown_input_name_is_an_input_error() -> None:
    with pytest.raises(InputError, match="qestion"):
        render_program(dspy.Predict("question -> answer"), qestion="typo")
    with pytest.raises(InputError, match="no predictors"):
        render_program(lambda **kw: kw)


def test_render_program_is_exported() -> None:
    assert promptkit.render_program is render_program
    assert "render_program" in promptkit.__all__


# -- the command ------------------------------------------------------------------------------------


def promptkit_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_json_lists_each_predictor_with_its_messages_and_placeholders() -> None:
    result = promptkit_cli(
        "render", "--program", "technique:plan_and_solve", "--var", "question=What is 2+2?", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = render_program(resolve_program("technique:plan_and_solve"), question="What is 2+2?")
    assert data == [r.to_dict() for r in expected]
    assert data[-1]["placeholders"]


def test_cli_text_and_messages_formats(tmp_path: Path) -> None:
    text = promptkit_cli("render", "--program", str(CHAIN), "--var", "feedback=Bills are too high.", "--format", "text")
    assert text.exit_code == 0, text.output
    assert "### extract" in text.output and "Bills are too high." in text.output
    assert "placeholders: issues" in text.output and "{issues}" in text.output

    messages = promptkit_cli("render", "--program", "technique:cot_zeroshot")
    assert messages.exit_code == 0, messages.output
    assert "predictor" in messages.output and "placeholders: question" in messages.output
    assert "system" in messages.output and "user" in messages.output and "{question}" in messages.output


def test_cli_render_template_still_works() -> None:
    result = promptkit_cli("render", "qa.j2", "--var", "question=Why?", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "Why?" in json.loads(result.output)[-1]["content"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "--program", "nosuchmodule:thing"], "cannot import module 'nosuchmodule'"),
        (["render"], "give either a TEMPLATE or --program"),
        (["render", "qa.j2", "--program", "technique:vanilla"], "give either a TEMPLATE or --program"),
        (["render", "--program", "technique:vanilla", "--var", "qq=1"], "no predictor takes input 'qq'"),
        (["render", "--program", "technique:vanilla", "--format", "yaml"], "--format 'yaml'"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(args: list[str], message: str) -> None:
    result = promptkit_cli(*args)
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.output
