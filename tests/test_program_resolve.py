"""resolve_program: the one resolver behind the CLI, evaluate and compile (incl. compiled program.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest
from test_evaluation_helpers import exact, qa_examples, qa_lm

import promptkit
from promptkit.errors import DataError, InputError
from promptkit.optimize import compile, read_metadata
from promptkit.programs.resolve import resolve_program

PROGRAM = """
import dspy

class Answerer(dspy.Module):
    def __init__(self):
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question):
        return self.answer(question=question)
"""


@pytest.fixture()
def lm() -> Any:
    _, table = qa_examples(20)
    model, _ = qa_lm(table)
    with dspy.context(lm=model):
        yield model


def test_evaluate_and_compile_take_a_reference_and_the_compiled_file_resolves(lm: Any, tmp_path: Path) -> None:
    source = tmp_path / "prog.py"
    source.write_text(PROGRAM)
    ref = f"{source}:Answerer"
    train, _ = qa_examples(6)
    dev, _ = qa_examples(20)
    assert promptkit.evaluate(ref, dev[10:14], [exact], progress=False, out=None).score == 1.0
    compiled = compile(
        ref,
        train,
        exact,
        max_bootstrapped_demos=1,
        max_labeled_demos=2,
        save=tmp_path / "out" / "program.json",
        progress=False,
    )
    assert read_metadata(tmp_path / "out" / "program.json")["program_ref"] == f"{source.resolve()}:Answerer"
    for target in (tmp_path / "out" / "program.json", tmp_path / "out"):  # the file, or the directory holding it
        loaded = resolve_program(target)
        assert type(loaded).__name__ == "Answerer" and loaded is not compiled
        assert [dict(d) for d in loaded.answer.demos] == [dict(d) for d in compiled.answer.demos]
        assert loaded(question="q12").answer == "a12"
    assert promptkit.resolve_program is resolve_program


def test_bad_references_name_the_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="compiled program not found"):
        resolve_program(tmp_path / "missing.json")
    with pytest.raises(InputError, match=r"compiled program\.json"):
        resolve_program("no-colon-here")
    assert type(resolve_program("technique:vanilla")).__name__ != "function"


def test_a_metric_can_be_a_function_in_a_file(tmp_path: Path, lm: Any) -> None:
    (tmp_path / "metrics.py").write_text(
        "def starts_with_a(example, prediction):\n    return float(prediction.answer.startswith('a'))\n"
    )
    dev, _ = qa_examples(4)
    result = promptkit.evaluate(
        lambda question: dspy.Prediction(answer="a" if question != "q0" else "b"),
        dev,
        [f"{tmp_path}/metrics.py:starts_with_a", exact],
        progress=False,
        out=None,
    )
    assert result.scores == {"starts_with_a": 0.75, "exact": 0.0}
    with pytest.raises(InputError, match="has no attribute 'nope'"):
        promptkit.evaluate(lambda question: None, dev, [f"{tmp_path}/metrics.py:nope"], progress=False, out=None)
