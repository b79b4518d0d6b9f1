"""A multi-step program whose step gets a reply that does not parse: raise, retry once, or degrade."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from promptkit.adapter import AdapterParseError, TemplateAdapter
from promptkit.errors import InputError
from promptkit.lm import FakeLM
from promptkit.programs import MultiHopRAG
from tests.test_programs_rag import KeywordRetriever

GARBLED = "and she is a lesbian, and she is a lesbian, and she is a lesbian"  # a loop cut at max_tokens
ANSWER = {"reasoning": "The passages name it.", "answer": "Pixel 8 Pro"}


def run(program: Any, replies: list[Any]) -> tuple[Any, FakeLM]:
    fake = FakeLM(replies)
    with dspy.context(lm=fake, adapter=TemplateAdapter()):
        return program(question="Which pixel phone takes night photos?"), fake


def test_degrade_searches_with_the_question_when_a_hop_query_does_not_parse() -> None:
    retriever = KeywordRetriever()
    program = MultiHopRAG(retriever, passages_per_hop=2, max_hops=2)
    prediction, fake = run(program, [GARBLED, {"reasoning": "r", "query": "pixel selfie"}, ANSWER])
    assert prediction.answer == "Pixel 8 Pro" and len(fake.calls) == 3
    assert [p.text for p in prediction.passages] == prediction.context
    assert [query for query, _ in retriever.calls] == ["Which pixel phone takes night photos?", "pixel selfie"]
    [note] = prediction.degraded
    assert note["step"] == "query 1" and note["action"] == "fallback" and "AdapterParseError" in note["error"]


def test_a_clean_run_records_nothing() -> None:
    replies = [{"reasoning": "r", "query": "pixel night"}, {"reasoning": "r", "query": "pixel selfie"}, ANSWER]
    prediction, _ = run(MultiHopRAG(KeywordRetriever(), max_hops=2), replies)
    assert prediction.degraded == []


def test_raise_ends_the_program_at_the_first_bad_reply() -> None:
    with pytest.raises(AdapterParseError):
        run(MultiHopRAG(KeywordRetriever(), max_hops=2, on_parse_error="raise"), [GARBLED])


def test_retry_asks_once_more_sampled_then_raises() -> None:
    program = MultiHopRAG(KeywordRetriever(), max_hops=1, on_parse_error="retry")
    prediction, fake = run(program, [GARBLED, {"reasoning": "r", "query": "pixel night"}, ANSWER])
    assert prediction.hops[0]["query"] == "pixel night" and prediction.degraded[0]["action"] == "retried"
    assert fake.calls[1].config["temperature"] == 0.7  # sampled: a greedy retry would repeat the bad reply
    with pytest.raises(AdapterParseError):
        run(MultiHopRAG(KeywordRetriever(), max_hops=1, on_parse_error="retry"), [GARBLED, GARBLED])


def test_an_answer_that_does_not_parse_is_asked_once_more_when_degrading() -> None:
    program = MultiHopRAG(KeywordRetriever(), max_hops=1)
    prediction, _ = run(program, [{"reasoning": "r", "query": "pixel night"}, GARBLED, ANSWER])
    assert prediction.answer == "Pixel 8 Pro" and prediction.degraded[0]["step"] == "answer"


def test_a_bad_option_is_an_input_error() -> None:
    with pytest.raises(InputError, match="on_parse_error"):
        MultiHopRAG(KeywordRetriever(), on_parse_error="ignore")  # type: ignore[arg-type]


def test_consensus_drops_a_sample_that_does_not_parse() -> None:
    from promptkit.techniques.ensembling import sample

    predict = dspy.ChainOfThought("question -> answer")
    fake = FakeLM([{"reasoning": "r", "answer": "4"}, GARBLED, {"reasoning": "r", "answer": "4"}])
    with dspy.context(lm=fake, adapter=TemplateAdapter()):
        samples, failures = sample(predict, {"question": "2+2?"}, n=3, temperature=0.7)
    assert [s.answer for s in samples] == ["4", "4"] and len(failures) == 1
