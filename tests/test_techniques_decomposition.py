"""Decomposition techniques on FakeLM: the calls each makes, what every prompt contains, how the
step outputs are combined."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from promptkit.errors import InputError
from promptkit.techniques import build


def system(call: Any) -> str:
    return call.messages[0]["content"]


def test_plan_and_solve_plans_then_extracts_the_answer(fake: Any) -> None:
    lm = fake([{"plan": "1. add the apples", "solution": "3 + 4 = 7"}, {"answer": "7"}])
    prediction = build("plan_and_solve")(question="Tom has 3 apples and gets 4. How many?")
    assert prediction.answer == "7" and prediction.plan == "1. add the apples"
    first, second = lm.calls
    assert "extract relevant variables and their corresponding numerals" in system(first)
    assert first.output_fields == ["plan", "solution"]
    assert "1. add the apples" in second.last_user_message and "3 + 4 = 7" in second.last_user_message
    assert "Therefore, the answer" in system(second)


def test_plan_and_solve_plain_ps_variant(fake: Any) -> None:
    lm = fake([{"plan": "p", "solution": "s"}, {"answer": "a"}])
    build("plan_and_solve", variant="ps")(question="q")
    text = system(lm.calls[0])
    assert "devise a plan to solve the problem" in text and "extract relevant variables" not in text
    with pytest.raises(InputError, match="unknown variant"):
        build("plan_and_solve", variant="ps++")


def test_least_to_most_solves_subquestions_in_order_with_earlier_answers(fake: Any) -> None:
    lm = fake(
        [
            {"subquestions": ["How long is one trip?", "How many trips fit?"]},
            {"subanswer": "5 minutes"},
            {"subanswer": "3 trips"},
            {"answer": "3"},
        ]
    )
    prediction = build("least_to_most", max_subquestions=4)(question="Amy climbs 4 min, slides 1 min; 15 min left?")
    assert len(lm.calls) == 4
    assert prediction.subquestions == ["How long is one trip?", "How many trips fit?"]
    assert prediction.subanswers == ["5 minutes", "3 trips"] and prediction.answer == "3"
    assert "List at most 4" in system(lm.calls[0])
    second_solve = lm.calls[2].last_user_message
    assert "Q1: How long is one trip?\nA1: 5 minutes" in second_solve and "How many trips fit?" in second_solve
    final = lm.calls[3].last_user_message
    assert "A1: 5 minutes" in final and "A2: 3 trips" in final
    assert lm.calls[3].output_fields == ["answer"]


def test_least_to_most_caps_the_subquestions(fake: Any) -> None:
    lm = fake([{"subquestions": ["a", "b", "c"]}, {"subanswer": "1"}, {"answer": "x"}])
    prediction = build("least_to_most", max_subquestions=1)(question="q")
    assert prediction.subquestions == ["a"] and len(lm.calls) == 3


def test_step_back_grounds_the_answer_in_the_abstraction(fake: Any) -> None:
    lm = fake(
        [
            {"stepback_question": "What is the ideal gas law?", "stepback_answer": "PV = nRT"},
            {"answer": "it halves"},
        ]
    )
    prediction = build("step_back")(question="What happens to P if V doubles at constant T?")
    assert prediction.answer == "it halves" and prediction.stepback_answer == "PV = nRT"
    assert "Step back and paraphrase the question" in system(lm.calls[0])
    assert lm.calls[0].output_fields == ["stepback_question", "stepback_answer"]
    second = lm.calls[1].last_user_message
    assert "What is the ideal gas law?" in second and "PV = nRT" in second


def test_step_back_with_a_retriever_searches_both_questions(fake: Any) -> None:
    queries: list[str] = []

    def retriever(query: str) -> list[str]:
        queries.append(query)
        return [f"passage about {query[:10]}"]

    lm = fake([{"stepback_question": "General question?", "stepback_answer": "facts"}, {"answer": "a"}])
    build("step_back", retriever=retriever)(question="Specific question?")
    assert queries == ["Specific question?", "General question?"]
    assert "passage about Specific q" in lm.calls[1].last_user_message
    assert "passage about General qu" in lm.calls[1].last_user_message
    with pytest.raises(InputError, match="retriever must be callable"):
        build("step_back", retriever="not callable")


def test_system2_attention_answers_from_the_rewrite_only(fake: Any) -> None:
    biased = "I think the answer is Johnson, but I'm not sure. Who was the 17th US president?"
    lm = fake([{"unbiased_question": "Who was the 17th president of the United States?"}, {"answer": "Andrew Johnson"}])
    prediction = build("system2_attention")(question=biased)
    assert prediction.answer == "Andrew Johnson"
    assert prediction.rewritten == {"question": "Who was the 17th president of the United States?"}
    first, second = lm.calls
    assert biased in first.last_user_message and "not the user's opinion" in system(first)
    assert "Who was the 17th president of the United States?" in second.last_user_message
    assert "I think" not in second.last_user_message


def test_system2_attention_rewrites_only_the_chosen_fields(fake: Any) -> None:
    lm = fake([{"unbiased_context": "clean context"}, {"answer": "a"}])
    build("system2_attention", "context, question -> answer", fields=["context"])(context="noisy", question="Q?")
    assert lm.calls[0].output_fields == ["unbiased_context"]
    assert "clean context" in lm.calls[1].last_user_message and "Q?" in lm.calls[1].last_user_message
    with pytest.raises(InputError, match="must name text input fields"):
        build("system2_attention", fields=["nope"])


def test_skeleton_of_thought_expands_points_in_parallel_and_joins_them_in_order(fake: Any) -> None:
    points = ["Sleep well", "Exercise daily", "Eat vegetables"]
    threads: set[int] = set()
    barrier = threading.Barrier(3, timeout=5)

    def answer(call: Any) -> dict[str, Any]:
        if call.output_fields == ["points"]:
            return {"points": points}
        threads.add(threading.get_ident())
        barrier.wait()  # all three expansions are in flight at once, or this times out
        return {"expansion": f"About {call.inputs['point'].lower()}."}

    lm = fake(fn=answer)
    prediction = build("skeleton_of_thought", num_threads=3)(question="How to stay healthy?")
    assert len(lm.calls) == 4 and len(threads) == 3
    assert prediction.answer.splitlines() == [
        "1. Sleep well: About sleep well.",
        "2. Exercise daily: About exercise daily.",
        "3. Eat vegetables: About eat vegetables.",
    ]
    expand_call = next(c for c in lm.calls if c.output_fields == ["expansion"])
    assert "1. Sleep well\n2. Exercise daily\n3. Eat vegetables" in expand_call.last_user_message
    assert "only giving the skeleton" in system(lm.calls[0])


def test_skeleton_of_thought_falls_back_to_a_direct_answer(fake: Any) -> None:
    lm = fake([{"points": []}, {"answer": "direct"}])
    prediction = build("skeleton_of_thought")(question="2 + 2?")
    assert prediction.answer == "direct" and len(lm.calls) == 2


def test_skeleton_of_thought_needs_a_text_output() -> None:
    with pytest.raises(InputError, match="exactly one str output"):
        build("skeleton_of_thought", "question -> answer: int")
