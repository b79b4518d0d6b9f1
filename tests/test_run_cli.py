"""Using a compiled program: `promptkit run`, `eval run` and `rag --program` take program.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from typer.testing import CliRunner

from promptkit.cli import app
from promptkit.lm import FakeLM
from promptkit.optimize import compile
from tests.programs import Capital

CAPITALS = {"France": "Paris", "Spain": "Madrid", "Italy": "Rome", "Peru": "Lima"}


def reply(call: Any) -> dict[str, str]:
    """Answers only with a demo in the prompt (so the compiled program differs from the plain one)."""
    country = str(call.inputs.get("question", "")).removeprefix("Capital of ").rstrip("?")
    return {"answer": CAPITALS.get(country, "?") if call.prompt.count("Capital of") >= 2 else "unsure"}


@pytest.fixture()
def compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    train = [dspy.Example(question=f"Capital of {c}?", answer=a).with_inputs("question") for c, a in CAPITALS.items()]
    with dspy.context(lm=FakeLM(fn=reply)):
        compile(
            Capital(),
            train,
            "exact_match",
            optimizer="labeled_fewshot",
            k=2,
            seed=0,
            progress=False,
            save=tmp_path / "out" / "program.json",
        )
    return tmp_path / "out" / "program.json"


def invoke(*args: str) -> Any:
    with dspy.context(lm=FakeLM(fn=reply)):
        return CliRunner().invoke(app, list(args))


def test_run_prints_the_prediction_as_text_and_json(compiled: Path, tmp_path: Path) -> None:
    (tmp_path / "q.txt").write_text("Capital of Peru?")
    for program in (str(compiled), str(compiled.parent)):  # the file or the compile DIR
        result = invoke("run", program, "--input", "question=@q.txt", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == {"answer": "Lima"}
    result = invoke("run", str(compiled), "--input", "question=Capital of Spain?")
    assert result.exit_code == 0 and "answer: Madrid" in result.output


def test_run_names_missing_and_unknown_inputs(compiled: Path) -> None:
    result = invoke("run", str(compiled), "--input", "query=x")
    assert result.exit_code == 2
    assert "takes inputs ['question']: missing ['question']; unknown ['query']" in result.output


def test_eval_run_takes_a_compiled_program(compiled: Path, tmp_path: Path) -> None:
    rows = [{"question": f"Capital of {c}?", "answer": a} for c, a in CAPITALS.items()]
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke(
        "eval", "run", str(compiled), "--data", "dev.jsonl", "--metric", "exact_match", "--out", "run", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["metrics"]["exact_match"]["mean"] == 1.0


def test_rag_answers_with_a_compiled_programs_demos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from promptkit.cli.retrieval_cmd import answer_question
    from promptkit.optimize import save_program
    from promptkit.programs import RAG
    from promptkit.retrieval import Passage

    def retriever(query: str, k: int = 3) -> list[Passage]:
        return [Passage(text="Paris is the capital of France.", score=0.9)][:k]

    rag = RAG(retriever, chain_of_thought=False)
    rag.generate_answer.demos = [
        dspy.Example(context=["Lima is in Peru."], question="Capital of Peru?", answer="Lima-DEMO")
    ]
    path = save_program(rag, tmp_path / "rag.json")
    answer_question(
        "Capital of France?", retriever, k=1, hops=1, model="fake", cot=False, show_prompt=True, compiled=path
    )
    assert "Lima-DEMO" in capsys.readouterr().out  # the compiled demo reached the prompt
