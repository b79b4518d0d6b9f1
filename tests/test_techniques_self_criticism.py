"""Chain-of-Verification and Self-Refine on FakeLM: stages, what each prompt sees, the stop rule."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.errors import InputError
from promptkit.techniques import build

DRAFT = "Politicians born in NY: Hillary Clinton, Donald Trump, Michael Bloomberg"


def cove_answer(call: Any) -> dict[str, Any]:
    fields = call.output_fields
    if fields == ["verification_questions"]:
        return {"verification_questions": ["Where was Hillary Clinton born?", "Where was Donald Trump born?"]}
    if fields == ["verification_answer"]:
        place = "Chicago" if "Hillary" in call.inputs["verification_question"] else "New York"
        return {"verification_answer": place}
    if "draft" in call.inputs:
        return {"answer": "Donald Trump, Michael Bloomberg"}
    return {"answer": DRAFT}


def test_chain_of_verification_verifies_claims_independently_then_revises(fake: Any) -> None:
    lm = fake(fn=cove_answer)
    prediction = build("chain_of_verification", num_threads=2)(question="Name politicians born in NY.")
    assert len(lm.calls) == 3 + 2
    assert prediction.draft == DRAFT
    assert prediction.verification_answers == ["Chicago", "New York"]
    assert prediction.answer == "Donald Trump, Michael Bloomberg"
    verify_calls = [c for c in lm.calls if c.output_fields == ["verification_answer"]]
    assert len(verify_calls) == 2
    for call in verify_calls:  # factored: a verification question never sees the draft or the task input
        assert DRAFT not in call.prompt and "Name politicians" not in call.prompt
    plan_call = next(c for c in lm.calls if c.output_fields == ["verification_questions"])
    assert DRAFT in plan_call.last_user_message and "Write at most 5" in plan_call.messages[0]["content"]
    revise = lm.calls[-1]
    assert revise.output_fields == ["answer"]
    assert "Q: Where was Hillary Clinton born?\nA: Chicago" in revise.last_user_message
    assert DRAFT in revise.last_user_message


def test_chain_of_verification_caps_questions(fake: Any) -> None:
    lm = fake(fn=cove_answer)
    prediction = build("chain_of_verification", max_questions=1)(question="q")
    assert prediction.verification_questions == ["Where was Hillary Clinton born?"] and len(lm.calls) == 4


def test_self_refine_stops_when_the_feedback_says_good(fake: Any) -> None:
    lm = fake(
        [
            {"answer": "draft one"},
            {"feedback": "too vague: name the year", "is_good": False},
            {"answer": "draft two, 1969"},
            {"feedback": "fine", "is_good": True},
        ]
    )
    prediction = build("self_refine", max_rounds=5)(question="When did Apollo 11 land?")
    assert len(lm.calls) == 4
    assert prediction.answer == "draft two, 1969" and prediction.stopped_by == "is_good"
    assert [r["is_good"] for r in prediction.rounds] == [False, True]
    critique, revise = lm.calls[1], lm.calls[2]
    assert "draft one" in critique.last_user_message and critique.output_fields == ["feedback", "is_good"]
    assert "too vague: name the year" in revise.last_user_message and "draft one" in revise.last_user_message
    assert "draft two, 1969" in lm.calls[3].last_user_message


def test_self_refine_stops_after_max_rounds(fake: Any) -> None:
    lm = fake(
        [
            {"answer": "v1"},
            {"feedback": "fix A", "is_good": False},
            {"answer": "v2"},
            {"feedback": "fix B", "is_good": False},
            {"answer": "v3"},
        ]
    )
    prediction = build("self_refine", max_rounds=2)(question="q")
    assert len(lm.calls) == 1 + 2 * 2
    assert prediction.answer == "v3" and prediction.stopped_by == "max_rounds"
    assert "Draft 1:\nv1\nFeedback 1: fix A" in lm.calls[4].last_user_message  # the history reaches round 2


def test_self_refine_keeps_a_first_draft_that_is_good(fake: Any) -> None:
    lm = fake([{"answer": "v1"}, {"feedback": "ok", "is_good": True}])
    prediction = build("self_refine")(question="q")
    assert prediction.answer == "v1" and len(lm.calls) == 2


def test_self_refine_multi_field_drafts(fake: Any) -> None:
    lm = fake([{"title": "T", "body": "B"}, {"feedback": "ok", "is_good": True}])
    prediction = build("self_refine", "topic -> title, body")(topic="x")
    assert (prediction.title, prediction.body) == ("T", "B")
    assert "title: T\nbody: B" in lm.calls[1].last_user_message


def test_self_refine_rejects_zero_rounds() -> None:
    with pytest.raises(InputError, match="max_rounds"):
        build("self_refine", max_rounds=0)
