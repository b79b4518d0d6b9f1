"""Exporting a program's prompts as templates and loading them back: ``promptkit export``,
``promptkit.load(program, templates=DIR)`` and ``--templates DIR`` on ``run`` / ``eval run``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from typer.testing import CliRunner

import promptkit
from promptkit import export_program, render_program
from promptkit.adapter.override import attached_template
from promptkit.cli import app
from promptkit.errors import DataError, InputError, TemplateError
from promptkit.programs.resolve import resolve_program
from tests.programs import Capital

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [f"Capital of country {n}? With {{braces}}, {{% tags %}} and [[ ## markers ## ]]" for n in range(20)]


class Research(dspy.Module):
    """Two predictors, the second fed by the first (importable: a compiled program.json rebuilds it)."""

    def __init__(self) -> None:
        super().__init__()
        self.plan = dspy.Predict("question -> search_query")
        self.answer = dspy.ChainOfThought("question, notes: list[str] -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        query = self.plan(question=question).search_query
        return self.answer(question=question, notes=[query, "a second note"])


def compiled(tmp_path: Path) -> Path:
    """A compiled Research: labeled demos and rewritten instructions (with Jinja-looking text) in program.json."""
    train = [
        dspy.Example(
            question=f"Capital of {c}?",
            search_query=f"{c} capital {{city}}",
            notes=["n"],
            reasoning="It is well known.",
            answer=a,
        ).with_inputs("question")
        for c, a in [("France", "Paris"), ("Peru", "Lima {%"), ("Japan", "Tokyo")]
    ]
    program = promptkit.compile(
        Research(), train, lambda ex, pred, trace=None: 1.0, optimizer="labeled_fewshot", k=2, progress=False
    )
    program.plan.signature = program.plan.signature.with_instructions("Write one search query. {{ not a variable }}")
    return promptkit.save_program(program, tmp_path / "program.json")


def sent(lm: Any, program: Any, questions: list[str]) -> list[list[dict[str, Any]]]:
    start = len(lm.calls)
    for question in questions:
        program(question=question)
    return [call.messages for call in lm.calls[start:]]


@pytest.mark.parametrize("structured", [None, "json_schema"], ids=["markers", "json-with-budgets"])
def test_export_then_load_sends_byte_identical_messages_on_20_inputs(
    fake: Any, tmp_path: Path, structured: str | None
) -> None:
    path = compiled(tmp_path)
    kwargs = {"max_tokens": 300} if structured else {}
    lm = fake(fn=lambda call: {"search_query": "q", "reasoning": "r", "answer": "a"}, **kwargs)
    if structured:
        lm.structured_output = structured  # a grammar-constrained route: JSON replies and length budgets
    export_program(resolve_program(path), tmp_path / "templates", ref=str(path))
    assert lm.calls == []  # exporting renders without the LM

    expected = sent(lm, resolve_program(path), QUESTIONS)
    got = sent(lm, promptkit.load(path, templates=tmp_path / "templates"), QUESTIONS)
    assert len(got) == 40  # two predictors per input
    assert got == expected
    assert "Lima {%" in json.dumps(got) and "{{ not a variable }}" in json.dumps(got)
    if structured:
        assert "JSON object" in got[0][-1]["content"] and "characters)" in got[0][0]["content"]


class Braces(dspy.Signature):
    """Answer {{ please }} {% if %} {# not a comment #}."""

    question: str = dspy.InputField(desc="a {question} {{q}}")
    answer: str = dspy.OutputField(desc="use {{x}} or {")


@pytest.mark.parametrize("structured", [None, "json_schema"], ids=["markers", "json-with-budgets"])
def test_jinja_syntax_in_instructions_field_docs_and_demos_stays_text(
    fake: Any, tmp_path: Path, structured: str | None
) -> None:
    lm = fake(fn=lambda call: {"answer": "a"}, **({"max_tokens": 200} if structured else {}))
    if structured:
        lm.structured_output = structured

    def braces() -> Any:
        program = dspy.Predict(Braces)
        program.demos = [dspy.Example(question="{% raw %}{{", answer="{#")]
        return program

    export_program(braces(), tmp_path)
    braces()(question="{{ question }}")
    promptkit.load(braces(), templates=tmp_path)(question="{{ question }}")
    original, loaded = (call.messages for call in lm.calls)
    assert loaded == original and "use {{x}} or {" in loaded[0]["content"]


@pytest.mark.parametrize("structured", [None, "json_schema"], ids=["markers", "json"])
def test_a_conversation_history_round_trips_too(fake: Any, tmp_path: Path, structured: str | None) -> None:
    lm = fake(fn=lambda call: {"answer": "a"}, **({"max_tokens": 200} if structured else {}))
    if structured:
        lm.structured_output = structured

    def chat() -> Any:
        program = dspy.Predict("question, history: dspy.History -> answer")
        program.demos = [dspy.Example(question="Hi?", answer="Hello.")]
        return program

    export_program(chat(), tmp_path)
    assert "{% for turn in history %}" in (tmp_path / "self.j2").read_text()
    history = dspy.History(
        messages=[
            {"question": "Capital of Peru?", "answer": "Lima"},
            {"question": "And of Chad?", "answer": "N'Djamena"},
        ]
    )
    chat()(question="And of Spain?", history=history)
    promptkit.load(chat(), templates=tmp_path)(question="And of Spain?", history=history)
    original, loaded = (call.messages for call in lm.calls)
    assert loaded == original and len(loaded) == 8  # system, a demo, two turns (user + assistant each), the task


def test_the_files_hold_front_matter_instructions_and_demos_as_text(tmp_path: Path) -> None:
    path = compiled(tmp_path)
    manifest = json.loads(export_program(resolve_program(path), tmp_path / "t", ref=str(path)).read_text())
    assert manifest["predictors"] == {"plan": "plan.j2", "answer.predict": "answer.predict.j2"}
    text = (tmp_path / "t" / "answer.predict.j2").read_text()
    front = promptkit.prompts.frontmatter.parse_front_matter(text, "answer.predict.j2")
    assert set(front.inputs) == {"question", "notes", "output_mode", "budgets"}
    assert front.extra["outputs"]["answer"]["type"] == "str" and "reasoning" in front.extra["outputs"]
    assert front.extra["export"]["predictor"] == "answer.predict"
    assert front.extra["export"]["program"] == str(path)
    assert front.extra["export"]["source_template"].startswith("dspy/chat.j2@")
    assert {"promptkit_version", "dspy_version"} <= set(front.extra["export"])
    assert "Capital of France?" in text and "It is well known." in text  # a demo, as plain text
    assert "{{ question }}" in text and "{{ notes }}" in text
    plan = (tmp_path / "t" / "plan.j2").read_text()
    assert 'Write one search query. {{ "{" }}{ not a variable }}' in plan


def test_an_edited_instruction_or_demo_changes_the_next_call(fake: Any, tmp_path: Path) -> None:
    lm = fake()
    program = Capital()
    program.answer.demos = [dspy.Example(question="Capital of Peru?", answer="Lima")]
    export_program(program, tmp_path)
    loaded = promptkit.load(Capital(), templates=tmp_path)
    loaded(question="Capital of Spain?")
    first = lm.calls[-1].messages

    file = tmp_path / "answer.j2"
    file.write_text(
        file.read_text()
        .replace("Given the fields `question`, produce the fields `answer`.", "Answer with the city name only.")
        .replace("Lima", "Lima, Peru")
    )
    loaded(question="Capital of Spain?")
    second = lm.calls[-1].messages
    assert "Answer with the city name only." in second[0]["content"]
    assert "Answer with the city name only." not in first[0]["content"]
    assert "Lima, Peru" in second[2]["content"] and "Lima, Peru" not in first[2]["content"]


def test_a_copied_program_keeps_its_templates(fake: Any, tmp_path: Path) -> None:
    lm = fake()
    export_program(Capital(), tmp_path)
    (tmp_path / "answer.j2").write_text(
        (tmp_path / "answer.j2").read_text().replace("Given the fields", "EDITED. Given the fields")
    )
    copied = copy.deepcopy(promptkit.load(Capital(), templates=tmp_path))  # optimizers and evaluators copy
    copied(question="Capital of Spain?")
    assert "EDITED." in lm.calls[-1].messages[0]["content"]


def test_an_async_call_sends_the_template_too(fake: Any, tmp_path: Path) -> None:
    import asyncio

    lm = fake()
    export_program(Capital(), tmp_path)
    file = tmp_path / "answer.j2"
    file.write_text(file.read_text().replace("Given the fields", "ASYNC. Given the fields"))
    loaded = promptkit.load(Capital(), templates=tmp_path)
    asyncio.run(loaded.answer.acall(question="Capital of Spain?"))
    assert "ASYNC." in lm.calls[-1].messages[0]["content"]


def test_the_templates_are_used_whatever_adapter_the_caller_configured(fake: Any, tmp_path: Path) -> None:
    lm = fake()
    export_program(Capital(), tmp_path)
    with dspy.context(adapter=dspy.ChatAdapter()):
        promptkit.load(Capital(), templates=tmp_path)(question="Capital of Spain?")
    assert "<OBJECTIVE_AND_PERSONA>" in lm.calls[-1].messages[0]["content"]


def test_an_exported_template_renders_with_promptkit_render_like_the_program(tmp_path: Path) -> None:
    program = Capital()
    program.answer.demos = [dspy.Example(question="Capital of Peru?", answer="Lima")]
    export_program(program, tmp_path)
    result = CliRunner().invoke(
        app, ["render", str(tmp_path / "answer.j2"), "--var", "question=Capital of Chad?", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    [expected] = render_program(program, question="Capital of Chad?")
    assert json.loads(result.output) == expected.messages


def test_an_exported_template_renders_with_plain_jinja2_as_the_readme_shows(tmp_path: Path) -> None:
    program = dspy.ChainOfThought("question -> answer")
    program.predict.demos = [dspy.Example(question="2 + 2?", reasoning="Add.", answer="4")]
    export_program(program, tmp_path)
    readme = (REPO / "README.md").read_text()
    snippet = readme.split("<!-- plain-jinja2 -->")[1].split("```python")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(snippet.replace("exported/predict.j2", str(tmp_path / "predict.j2")), namespace)
    [expected] = render_program(program, question="What is 6 * 7?")
    assert namespace["messages"] == expected.messages


def test_export_and_run_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["export", "technique:cot_zeroshot", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    file = tmp_path / "predict.j2"
    file.write_text(file.read_text().replace("Let's think step by step.", "Think in one short sentence."))
    result = runner.invoke(
        app,
        [
            "run",
            "technique:cot_zeroshot",
            "--templates",
            str(tmp_path),
            "--model",
            "fake",
            "--input",
            "question=What is 2 + 3?",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answer"]
    rendered = runner.invoke(app, ["render", str(file), "--var", "question=x"])
    assert "Think in one short sentence." in rendered.output
    edited = runner.invoke(
        app, ["render", "--program", "technique:cot_zeroshot", "--templates", str(tmp_path), "--format", "text"]
    )
    assert edited.exit_code == 0 and "Think in one short sentence." in edited.output, edited.output
    original = runner.invoke(app, ["render", "--program", "technique:cot_zeroshot"])
    assert original.exit_code == 0 and "Think in one short sentence." not in original.output
    alone = runner.invoke(app, ["render", "structured.j2", "--templates", str(tmp_path)])
    assert alone.exit_code == 2 and "--program" in alone.output


def test_eval_run_takes_templates(tmp_path: Path) -> None:
    export_program(Capital(), tmp_path / "t")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{n}", "answer": "a"}) + "\n" for n in range(3)))
    program = tmp_path / "prog.py"
    program.write_text("from tests.programs import Capital\n")
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "run",
            f"{program}:Capital",
            "--data",
            str(data),
            "--metric",
            "exact_match",
            "--model",
            "fake",
            "--templates",
            str(tmp_path / "t"),
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3


def test_render_program_shows_what_a_loaded_program_sends(tmp_path: Path) -> None:
    export_program(Capital(), tmp_path)
    file = tmp_path / "answer.j2"
    file.write_text(file.read_text().replace("Given the fields", "EDITED. Given the fields"))
    [rendered] = render_program(promptkit.load(Capital(), templates=tmp_path), question="Capital of Chad?")
    assert "EDITED." in rendered.messages[0]["content"] and "Capital of Chad?" in rendered.messages[-1]["content"]


def retrieve(query: str, k: int = 3) -> list[str]:
    return ["first passage", "second passage"]


def search(query: str) -> str:
    """Search the web."""
    return "a result"


def every_program() -> dict[str, Any]:
    """Every technique that builds without options (several have many predictors), ReAct, RAG and MultiHopRAG."""
    from promptkit import techniques

    programs: dict[str, Any] = {}
    for info in techniques.list_techniques():
        if not info.requires:  # an option it cannot do without (tools, a question pool, a chain)
            programs[info.id] = lambda tid=info.id: techniques.build(tid, "question -> answer")
    programs["react"] = lambda: techniques.build("react", "question -> answer", tools=[search])
    programs["rag"] = lambda: promptkit.RAG(retrieve)
    programs["multihop"] = lambda: promptkit.MultiHopRAG(retrieve)
    return programs


def test_every_technique_and_rag_renders_the_same_from_its_export(tmp_path: Path) -> None:
    for name, build in every_program().items():
        export_program(build(), tmp_path / name)
        loaded = promptkit.load(build(), templates=tmp_path / name)
        assert all(attached_template(p) is not None for _, p in loaded.named_predictors()), name
        # maieutic's predictors read statements, not the question: those render with placeholders.
        takes_question = any("question" in p.signature.input_fields for _, p in loaded.named_predictors())
        values = {"question": "What is 17 * 3?"} if takes_question else {}
        expected = render_program(build(), **values)
        assert [r.messages for r in render_program(loaded, **values)] == [r.messages for r in expected], name


# -- errors -------------------------------------------------------------------------------------------------


def exported_capital(tmp_path: Path) -> Path:
    export_program(Capital(), tmp_path)
    return tmp_path


def test_a_missing_predictor_file_names_the_manifest_line(tmp_path: Path) -> None:
    (exported_capital(tmp_path) / "answer.j2").unlink()
    with pytest.raises(DataError, match=r"manifest.json:\d+: predictor 'answer': template file 'answer.j2' not found"):
        promptkit.load(Capital(), templates=tmp_path)


def test_a_manifest_entry_outside_the_directory_is_refused(tmp_path: Path) -> None:
    manifest = exported_capital(tmp_path / "t") / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"answer.j2"', '"../answer.j2"'))
    with pytest.raises(DataError, match=r"manifest.json:\d+: predictor 'answer': '../answer.j2' is not the name"):
        promptkit.load(Capital(), templates=tmp_path / "t")


def test_an_extra_template_file_is_refused(tmp_path: Path) -> None:
    (exported_capital(tmp_path) / "stray.j2").write_text("hello")
    with pytest.raises(DataError, match=r"stray.j2 is not in manifest.json") as info:
        promptkit.load(Capital(), templates=tmp_path)
    assert "delete it" in str(info.value)


def test_a_manifest_for_another_program_is_refused_naming_the_line(tmp_path: Path) -> None:
    exported_capital(tmp_path)
    with pytest.raises(DataError, match=r"manifest.json:\d+: no template for predictor 'plan'"):
        promptkit.load(Research(), templates=tmp_path)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        manifest.read_text().replace('"answer": "answer.j2"', '"answer": "answer.j2",\n    "ghost": "answer.j2"')
    )
    with pytest.raises(DataError, match=r"manifest.json:8: predictor 'ghost' is not in the program \(it has answer\)"):
        promptkit.load(Capital(), templates=tmp_path)


def test_a_renamed_predictor_in_the_manifest_is_a_mismatch(tmp_path: Path) -> None:
    manifest = exported_capital(tmp_path) / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"answer": "answer.j2"', '"other": "answer.j2"'))
    other = Capital()
    other.other = other.answer  # type: ignore[attr-defined]
    del other.answer
    with pytest.raises(TemplateError, match=r"answer.j2', line \d+: was exported for predictor 'answer'") as info:
        promptkit.load(other, templates=tmp_path)
    lines = (tmp_path / "answer.j2").read_text().splitlines()
    assert info.value.line is not None and lines[info.value.line - 1].strip() == "predictor: answer"


def test_a_template_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    file = exported_capital(tmp_path) / "answer.j2"
    lines = file.read_text().splitlines()
    at = lines.index("<OBJECTIVE_AND_PERSONA>")
    lines[at] = "<OBJECTIVE_AND_PERSONA> {% if %}"
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(TemplateError) as info:
        promptkit.load(Capital(), templates=tmp_path)
    assert info.value.template == str(file) and info.value.line == at + 1
    assert isinstance(info.value, InputError)


def test_a_template_missing_an_input_says_what_to_declare(tmp_path: Path) -> None:
    file = exported_capital(tmp_path) / "answer.j2"
    file.write_text(file.read_text().replace("  question: {type: str}\n", ""))
    with pytest.raises(
        TemplateError,
        match=r"answer.j2', line \d+: uses variable 'question', which its front "
        r"matter does not declare",
    ):
        promptkit.load(Capital(), templates=tmp_path)
    file.write_text(file.read_text().replace("{{ question }}", "(no question)"))  # declared nowhere, used nowhere
    with pytest.raises(TemplateError, match=r"does not declare input 'question' of predictor 'answer'") as info:
        promptkit.load(Capital(), templates=tmp_path)
    assert "question: {type: str}" in str(info.value)


def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "technique:cot_zeroshot", "--templates", str(tmp_path), "--model", "fake", "--input", "question=x"]
    )
    assert result.exit_code == 2 and "no manifest.json" in result.output and "Traceback" not in result.output
    chain = REPO / "pipelines" / "telecom_feedback.yaml"
    result = CliRunner().invoke(app, ["export", str(chain), "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "templates already" in result.output


def test_an_input_named_like_an_adapter_variable_cannot_be_exported(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input named 'budgets'"):
        export_program(dspy.Predict("budgets -> answer"), tmp_path)


def test_a_second_export_removes_files_of_predictors_that_are_gone(tmp_path: Path) -> None:
    export_program(Research(), tmp_path)
    export_program(Research().plan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "self.j2"]
    promptkit.load(dspy.Predict("question -> search_query"), templates=tmp_path)


@pytest.mark.local
@pytest.mark.slow  # ~20 s alone (loading the model); seconds when the suite has it loaded already
def test_the_embedded_model_runs_a_program_from_exported_templates(tmp_path: Path) -> None:
    program = Capital()
    program.answer.demos = [dspy.Example(question="Capital of France?", answer="Paris")]
    export_program(program, tmp_path)
    file = tmp_path / "answer.j2"
    file.write_text(
        file.read_text().replace(
            "Given the fields `question`, produce the fields `answer`.",
            "Name the capital city. Reply with the city only.",
        )
    )
    lm = promptkit.lm("local", max_tokens=16, cache=False)
    with dspy.context(lm=lm, adapter=promptkit.TemplateAdapter()):
        prediction = promptkit.load(Capital(), templates=tmp_path)(question="Capital of Italy?")
    assert isinstance(prediction.answer, str) and prediction.answer.strip()
    sent_messages = lm.history[-1]["messages"]
    assert "Name the capital city. Reply with the city only." in sent_messages[0]["content"]
    assert "Capital of France?" in sent_messages[1]["content"]
