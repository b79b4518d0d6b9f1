"""Shared helpers for the evaluation / optimize tests (no tests here).

``QAEngine`` is a DSPy 3.4 LM engine (``complete(request) -> Response``) answering from a table:
unlike DummyLM it goes through DSPy's cache, usage tracking and history, and it is safe under
threads (answers depend on the question, not on call order).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any

import dspy
from dspy.lm15 import Message, Response, Usage

# A field's value ends at the next field, at DSPy's closing instruction, or at the end of the
# TemplateAdapter's TASK section.
_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond|\n</TASK>|\Z)", re.DOTALL)


class QAEngine:
    """Answers ``[[ ## answer ## ]]`` from ``answers[question]`` (default: the question echoed)."""

    def __init__(self, answers: Mapping[str, str] | None = None, *, delay: float = 0.0) -> None:
        self.answers = dict(answers or {})
        self.delay = delay
        self.calls = 0
        self.questions: list[str] = []
        self._lock = threading.Lock()

    def complete(self, request: Any) -> Response:
        fields = dict(_FIELD.findall(request.messages[-1].text))
        question = fields.get("question", "").strip()
        with self._lock:
            self.calls += 1
            self.questions.append(question)
        if self.delay:
            time.sleep(self.delay)
        answer = self.answers.get(question, question)
        system = request.system if isinstance(request.system, str) else " ".join(map(str, request.system or ()))
        text = f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"
        if "reasoning" in system:
            text = f"[[ ## reasoning ## ]]\nthinking about {question}\n\n" + text
        return Response(
            id=None,
            model=request.model,
            finish_reason="stop",
            usage=Usage(input_tokens=10, output_tokens=2),
            message=Message.assistant(text),
        )


def qa_lm(answers: Mapping[str, str] | None = None, *, cache: bool = False, delay: float = 0.0) -> tuple[Any, QAEngine]:
    engine = QAEngine(answers, delay=delay)
    return dspy.LM("local/qa", engine=engine, cache=cache), engine


def qa_examples(n: int, *, wrong_every: int = 0) -> tuple[list[dspy.Example], dict[str, str]]:
    """``n`` examples q0..q{n-1} with answers a0..; the LM table is wrong on every ``wrong_every``-th row."""
    examples = [dspy.Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in range(n)]
    table = {f"q{i}": (f"wrong{i}" if wrong_every and i % wrong_every == 0 else f"a{i}") for i in range(n)}
    return examples, table


def exact(example: Any, prediction: Any) -> bool:
    """A tiny metric of our own (the registry's metrics are tested elsewhere)."""
    return bool(example.answer == prediction.answer)
