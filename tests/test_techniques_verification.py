"""Logical Thoughts and Verify-and-Edit on FakeLM: the control flow, the call counts, the bounds and what
each prompt sees."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from promptkit.errors import InputError
from promptkit.techniques import build
from promptkit.techniques.verification import negation_wins

# -- Logical Thoughts ---------------------------------------------------------------------------------


def lot_answer(steps: list[str], *, revised: str = "s2 fixed", following: tuple[str, ...] = ("s3 new",)) -> Any:
    """A scripted LoT run: the CoT writes ``steps``; a step containing "wrong" loses to its negation."""

    def reply(call: Any) -> dict[str, Any]:
        fields, inputs = call.output_fields, call.inputs
        if fields == ["reasoning", "answer"]:
            return {"reasoning": steps, "answer": "cot answer"}
        if fields == ["explanation_for", "explanation_against"]:
            return {"explanation_for": f"FOR<{inputs['step']}>", "explanation_against": f"AGAINST<{inputs['step']}>"}
        if fields == ["verdict"]:
            return {"verdict": "B" if "wrong" in inputs["step"] else "A, the step holds"}
        if fields == ["revised_step", "following_steps"]:
            return {"revised_step": revised, "following_steps": list(following)}
        assert fields == ["answer"], fields
        return {"answer": "verified answer"}

    return reply


def calls_for(lm: Any, *fields: str) -> list[Any]:
    return [c for c in lm.calls if c.output_fields == list(fields)]


def test_lot_revises_a_step_whose_negation_wins_and_regenerates_the_rest(fake: Any) -> None:
    lm = fake(fn=lot_answer(["s1 holds", "s2 wrong", "s3 old"]))
    prediction = build("logical_thoughts")(question="What is 6 * 7?")
    # think + (check + judge) x 3 steps + 1 revision + answer; the old s3 is never checked
    assert len(lm.calls) == 1 + 2 * 3 + 1 + 1
    assert prediction.initial_steps == ["s1 holds", "s2 wrong", "s3 old"]
    assert prediction.steps == ["s1 holds", "s2 fixed", "s3 new"]
    assert [(c["step"], c["verdict"], c["revised"]) for c in prediction.checks] == [
        ("s1 holds", "step", False),
        ("s2 wrong", "negation", True),
        ("s3 new", "step", False),
    ]
    assert prediction.checks[1]["against"] == "AGAINST<s2 wrong>" and prediction.checks[1]["revision"] == "s2 fixed"
    assert prediction.answer == "verified answer"
    assert "Let's think step by step." in lm.calls[0].messages[0]["content"]
    for judge in calls_for(lm, "verdict"):  # the judge sees both explanations, and the premises so far
        step = judge.inputs["step"]
        assert f"FOR<{step}>" in judge.last_user_message and f"AGAINST<{step}>" in judge.last_user_message
    assert "1. s1 holds" in calls_for(lm, "verdict")[1].last_user_message
    (revise,) = calls_for(lm, "revised_step", "following_steps")
    assert "AGAINST<s2 wrong>" in revise.last_user_message and "s3 old" in revise.last_user_message
    assert "1. s1 holds" in revise.last_user_message
    final = lm.calls[-1]
    assert final.output_fields == ["answer"] and "2. s2 fixed\n3. s3 new" in final.last_user_message
    assert "What is 6 * 7?" in final.last_user_message


def test_lot_keeps_steps_that_hold_and_reuses_the_cot_answer(fake: Any) -> None:
    lm = fake(fn=lot_answer(["a", "b", "c"]))
    prediction = build("logical_thoughts")(question="q")
    assert len(lm.calls) == 1 + 2 * 3  # no revision, so no answer call: the CoT answer came from these steps
    assert prediction.steps == ["a", "b", "c"] and prediction.answer == "cot answer"
    assert all(c["verdict"] == "step" and not c["revised"] for c in prediction.checks)


def test_lot_max_revisions_bounds_the_revisions(fake: Any) -> None:
    lm = fake(fn=lot_answer(["x wrong", "y wrong"], revised="x fixed", following=("z wrong",)))
    prediction = build("logical_thoughts", max_revisions=1)(question="q")
    # think, (check, judge, revise) for x, (check, judge) for the regenerated z: budget spent, kept; answer
    assert len(lm.calls) == 1 + 3 + 2 + 1
    assert prediction.steps == ["x fixed", "z wrong"]
    assert [(c["verdict"], c["revised"]) for c in prediction.checks] == [("negation", True), ("negation", False)]


def test_lot_max_revisions_zero_only_judges(fake: Any) -> None:
    lm = fake(fn=lot_answer(["x wrong"]))
    prediction = build("logical_thoughts", max_revisions=0)(question="q")
    assert len(lm.calls) == 3 and prediction.answer == "cot answer" and prediction.checks[0]["verdict"] == "negation"


def test_lot_max_steps_bounds_the_checked_steps(fake: Any) -> None:
    lm = fake(fn=lot_answer(["a", "b", "c", "d wrong"]))
    prediction = build("logical_thoughts", max_steps=2)(question="q")
    assert len(lm.calls) == 1 + 2 * 2 and len(prediction.checks) == 2
    assert prediction.steps == ["a", "b", "c", "d wrong"]  # unchecked steps are kept as written


@pytest.mark.parametrize(
    ("verdict", "negation"),
    [
        ("B", True),
        ("b.", True),
        ("(B) the negation", True),
        ("Explanation B", True),
        ("Option A", False),
        ("A", False),
        ("A, because B is false", False),
        ("The negation is more plausible", True),
        ("Both are fine", False),
        ("verdict text", False),
        ("", False),
        (None, False),
    ],
)
def test_judge_verdicts_are_parsed_robustly(verdict: Any, negation: bool) -> None:
    assert negation_wins(verdict) is negation


def test_lot_works_with_other_signatures(fake: Any) -> None:
    def reply(call: Any) -> dict[str, Any]:
        if call.output_fields == ["reasoning", "label"]:
            return {"reasoning": ["premise wrong"], "label": 1}
        if call.output_fields == ["verdict"]:
            return {"verdict": "B"}
        if call.output_fields == ["explanation_for", "explanation_against"]:
            return {"explanation_for": "f", "explanation_against": "g"}
        if call.output_fields == ["revised_step", "following_steps"]:
            return {"revised_step": "premise fixed", "following_steps": []}
        return {"label": 2}

    lm = fake(fn=reply)
    prediction = build("logical_thoughts", "context, claim -> label: int")(context="c", claim="k")
    assert prediction.label == 2 and prediction.steps == ["premise fixed"] and len(lm.calls) == 5


@pytest.mark.parametrize(
    ("options", "named"), [({"max_steps": 0}, "max_steps"), ({"max_revisions": -1}, "max_revisions")]
)
def test_lot_bad_options(options: dict[str, Any], named: str) -> None:
    with pytest.raises(InputError, match=named):
        build("logical_thoughts", **options)


# -- Verify-and-Edit ----------------------------------------------------------------------------------


def ve_answer(votes: list[str], questions: tuple[str, ...] = ("Q1?", "Q2?")) -> Any:
    """SC samples answer ``votes`` in order (rationale R<i>), then questions, answers, the edit."""
    counter = itertools.count()
    lock = threading.Lock()

    def reply(call: Any) -> dict[str, Any]:
        fields, inputs = call.output_fields, call.inputs
        if fields == ["reasoning", "answer"]:
            with lock:
                i = next(counter)
            return {"reasoning": f"R{i} says {votes[i]}", "answer": votes[i]}
        if fields == ["verifying_questions"]:
            return {"verifying_questions": list(questions)}
        if fields == ["verifying_answer"]:
            return {"verifying_answer": f"ans({inputs['verifying_question']})"}
        assert fields == ["edited_rationale", "answer"], fields
        return {"edited_rationale": "edited R", "answer": "Lyon"}

    return reply


def test_ve_agreement_above_threshold_returns_after_the_samples(fake: Any) -> None:
    lm = fake(fn=ve_answer(["Paris", "paris.", "Lyon"]))
    # One thread: ve_answer hands out votes in arrival order, and which of "Paris" / "paris." wins (the
    # first-seen sample in rollout order) must not depend on which parallel request reaches the LM first.
    prediction = build("verify_and_edit", n=3, temperature=0.9, num_threads=1)(question="Capital of France?")
    assert len(lm.calls) == 3 and all(c.config["temperature"] == 0.9 for c in lm.calls)
    assert prediction.answer == "Paris" and prediction.votes == {"paris": 2, "lyon": 1}
    assert prediction.verified is False and prediction.questions == [] and prediction.rationale == "R0 says Paris"


def test_ve_split_vote_verifies_then_edits(fake: Any) -> None:
    lm = fake(fn=ve_answer(["Paris", "Lyon", "Paris", "Nice"]))
    prediction = build("verify_and_edit", n=4, num_threads=2)(question="Where is the Louvre?")
    # 2/4 is not more than the default threshold 0.5: questions, 2 answers, the edit
    assert len(lm.calls) == 4 + 1 + 2 + 1
    assert prediction.verified is True and prediction.share == 0.5
    assert prediction.answer == "Lyon" and prediction.edited_rationale == "edited R"
    assert prediction.questions == ["Q1?", "Q2?"] and prediction.answers == ["ans(Q1?)", "ans(Q2?)"]
    assert prediction.evidence == [[], []] and prediction.rationale.endswith("says Paris")
    (ask,) = calls_for(lm, "verifying_questions")
    assert prediction.rationale in ask.last_user_message and "Write at most 3" in ask.messages[0]["content"]
    for call in calls_for(lm, "verifying_answer"):  # answered on its own: no rationale, no task input
        assert "Where is the Louvre?" not in call.prompt and "own knowledge" in call.messages[0]["content"]
    edit = lm.calls[-1]
    assert edit.output_fields == ["edited_rationale", "answer"]
    assert "Q: Q1?\nA: ans(Q1?)\nQ: Q2?\nA: ans(Q2?)" in edit.last_user_message
    assert prediction.rationale in edit.last_user_message and "Where is the Louvre?" in edit.last_user_message


def test_ve_threshold_option_moves_the_gate(fake: Any) -> None:
    lm = fake(fn=ve_answer(["Paris", "Paris", "Lyon"]))
    prediction = build("verify_and_edit", n=3, threshold=0.7)(question="q")  # 2/3 < 0.7: verify
    assert prediction.verified is True and len(lm.calls) == 3 + 1 + 2 + 1


def test_ve_retriever_passages_reach_the_answer_prompts(fake: Any) -> None:
    asked: list[str] = []

    def retriever(query: str) -> list[str]:
        asked.append(query)
        return [f"passage about {query}", "second", "third", "fourth"]

    lm = fake(fn=ve_answer(["A", "B"], questions=("Q1?", "Q2?", "Q3?")))
    prediction = build("verify_and_edit", n=2, retriever=retriever, k=2, max_questions=2)(question="q")
    assert sorted(asked) == ["Q1?", "Q2?"] and prediction.questions == ["Q1?", "Q2?"]  # max_questions
    assert prediction.evidence == [["passage about Q1?", "second"], ["passage about Q2?", "second"]]
    answers = calls_for(lm, "verifying_answer")
    assert len(answers) == 2 and len(lm.calls) == 2 + 1 + 2 + 1
    for call in answers:
        question = call.inputs["verifying_question"]
        assert f"1. passage about {question}\n2. second" in call.last_user_message
        assert "third" not in call.last_user_message and "passages" in call.messages[0]["content"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"retriever": "wikipedia"}, "retriever"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"n": 0}, "n=0"),
        ({"temperature": 0}, "temperature"),
        ({"max_questions": 0}, "max_questions"),
        ({"k": 0}, "k=0"),
        ({"field": "nope"}, "field"),
    ],
)
def test_ve_bad_options(options: dict[str, Any], named: str) -> None:
    with pytest.raises(InputError, match=named):
        build("verify_and_edit", **options)
