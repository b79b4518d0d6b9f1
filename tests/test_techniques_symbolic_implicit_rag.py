"""chain_of_symbol and implicit_rag against FakeLM: one call each, symbolic demos as FEW_SHOT_EXAMPLES
turns, the technique's field before the answer, the snippet limits in the instructions, the verbatim check."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.errors import InputError
from promptkit.techniques import build
from promptkit.techniques.implicit_rag import found_in
from promptkit.techniques.symbolic import SYMBOL_DEMOS


def system(call: Any) -> str:
    return next(m["content"] for m in call.messages if m["role"] == "system")


def output_order(call: Any, *names: str) -> list[int]:
    text = system(call).split("<OUTPUT_FORMAT>")[1]
    return [text.index(f"[[ ## {name} ## ]]") for name in names]


# --- chain_of_symbol ---------------------------------------------------------------------------------


def test_chain_of_symbol_sends_the_builtin_symbolic_demos_as_turns(fake: Any) -> None:
    lm = fake([{"reasoning": "B/A\nB -> off\nA -> take", "answer": "B, A"}])
    prediction = build("chain_of_symbol")(question="Brick B is on brick A. How do you get brick A?")
    assert prediction.answer == "B, A" and prediction.reasoning.startswith("B/A")
    assert len(lm.calls) == 1
    messages = lm.calls[0].messages
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * len(SYMBOL_DEMOS) + ["user"]
    for index, demo in enumerate(SYMBOL_DEMOS):
        assert demo["question"] in messages[1 + 2 * index]["content"]
        assert f"[[ ## reasoning ## ]]\n{demo['reasoning']}" in messages[2 + 2 * index]["content"]
    assert "C/A/B" in messages[2]["content"] and "(3,1)" in messages[4]["content"]
    text = system(lm.calls[0])
    assert "3 worked examples" in text and "compact symbols" in text
    reasoning_at, answer_at = output_order(lm.calls[0], "reasoning", "answer")
    assert reasoning_at < answer_at


def test_chain_of_symbol_takes_user_demos_for_any_signature(fake: Any) -> None:
    demos = [{"scene": "cup on plate on table", "reasoning": "cup/plate/table", "top": "cup"}]
    lm = fake([{"reasoning": "book/box", "top": "book"}])
    prediction = build("chain_of_symbol", "scene -> top", demos=demos)(scene="book on box")
    assert prediction.top == "book" and prediction.reasoning == "book/box"
    messages = lm.calls[0].messages
    assert len(messages) == 4 and "cup/plate/table" in messages[2]["content"]
    assert "1 worked example in" in system(lm.calls[0])
    assert SYMBOL_DEMOS[0]["question"] not in str(messages)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"demos": [{"question": "q", "answer": "a"}]}, r"demo #1 has no reasoning \(option demos\)"),
        ({"demos": [{"question": "q", "reasoning": "r"}]}, "has no answer"),
        ({"demos": []}, "demos is empty"),
        ({"demos": "A/B"}, "not a list of demos"),
        ({"demos": [["q", "r", "a"]]}, "not a mapping"),
    ],
)
def test_chain_of_symbol_rejects_bad_demos(options: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match) as caught:
        build("chain_of_symbol", **options)
    assert "demos" in str(caught.value)


def test_chain_of_symbol_needs_demos_beyond_question_answer() -> None:
    with pytest.raises(InputError, match="needs demos for signature") as caught:
        build("chain_of_symbol", "scene -> top")
    assert "option demos" in str(caught.value)


# --- implicit_rag -----------------------------------------------------------------------------------

CONTEXT = (
    "Aspirin irreversibly inhibits cyclooxygenase.\nIt is taken for pain and fever.\n"
    "Its use in children is linked to Reye syndrome."
)


def test_implicit_rag_extracts_snippets_then_answers_in_one_call(fake: Any) -> None:
    snippets = ["Its use in children is linked to Reye syndrome.", "Aspirin is safe for every child."]
    lm = fake([{"snippets": snippets, "answer": "Reye syndrome"}])
    program = build("implicit_rag", "context, question -> answer", max_snippets=2, max_words=12)
    prediction = program(context=CONTEXT, question="Which risk does aspirin carry for children?")
    assert len(lm.calls) == 1
    assert prediction.answer == "Reye syndrome" and prediction.snippets == snippets
    assert prediction.snippets_found == [True, False]  # quoted vs invented
    text = system(lm.calls[0])
    assert "at most 2 of them" in text and "at most 12 words" in text and "No separate context" not in text
    snippets_at, answer_at = output_order(lm.calls[0], "snippets", "answer")
    assert snippets_at < answer_at
    assert CONTEXT.splitlines()[0] in lm.calls[0].last_user_message


def test_implicit_rag_defaults_appear_in_the_instructions(fake: Any) -> None:
    lm = fake([{"snippets": [], "answer": "x"}])
    prediction = build("implicit_rag", "context, question -> answer")(context=CONTEXT, question="q")
    assert prediction.snippets_found == []
    assert "at most 3 of them" in system(lm.calls[0]) and "at most 50 words" in system(lm.calls[0])


def test_verbatim_check_tolerates_whitespace_case_and_quotes_only() -> None:
    assert found_in('"aspirin irreversibly   inhibits cyclooxygenase..."', CONTEXT)
    assert found_in("It is taken for pain and fever. Its use", CONTEXT)  # across a line break
    assert not found_in("Aspirin reversibly inhibits cyclooxygenase.", CONTEXT)
    assert not found_in("  ", CONTEXT)


def test_implicit_rag_with_question_only_extracts_from_the_question(fake: Any) -> None:
    question = "The meeting moved from Monday to Thursday. On which day is the meeting?"
    lm = fake([{"snippets": ["moved from Monday to Thursday"], "answer": "Thursday"}])
    prediction = build("implicit_rag", "question -> answer")(question=question)
    assert prediction.answer == "Thursday" and prediction.snippets_found == [True]
    assert "No separate context was given" in system(lm.calls[0])


def test_implicit_rag_context_field_option(fake: Any) -> None:
    lm = fake([{"snippets": ["page two"], "answer": "2"}])
    program = build("implicit_rag", "document, question -> answer", context_field="document")
    prediction = program(document="page one, page two", question="which page?")
    assert prediction.snippets_found == [True]
    assert "Read `document`" in system(lm.calls[0])


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"max_snippets": 0}, "max_snippets"),
        ({"max_words": -5}, "max_words"),
        ({"max_words": "50"}, "max_words"),
        ({"max_snippets": True}, "max_snippets"),
        ({"context_field": "passage"}, "context_field"),
    ],
)
def test_implicit_rag_rejects_bad_options(options: dict[str, Any], name: str) -> None:
    with pytest.raises(InputError, match=name):
        build("implicit_rag", "context, question -> answer", **options)
