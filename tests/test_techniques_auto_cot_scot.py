"""Auto-CoT and structured CoT on FakeLM: one demo per cluster of an injected embedding, the length filters,
demos built once and shown as FEW_SHOT_EXAMPLES with their reasoning, typed errors for bad options; the
SCoT plan written first and handed to the code call, or written before the outputs in one call."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import numpy as np
import pytest

from promptkit.errors import InputError
from promptkit.techniques import build
from promptkit.techniques.auto_cot import kmeans, tfidf_embed

# Three obvious topics; the embedding below puts each on its own axis (plus a little noise per question).
TOPICS = {"apples": 0, "trains": 1, "coins": 2}
POOL = [
    "How many apples are left after eating some apples?",
    "A train travels 60 km in one hour; how far do the trains go in 3 hours?",
    "How many coins make a dollar if each coin is a quarter?",
    "Tom had 5 apples and bought 3 apples. How many apples now?",
    "Two trains leave a station. When do the trains meet?",
    "Sara saves coins: 4 coins a day. How many coins in a week?",
]


def embed(texts: list[str]) -> list[list[float]]:
    """Deterministic: the topic axis, plus a small offset that grows with the text length."""
    vectors = []
    for text in texts:
        vector = [0.0, 0.0, 0.0, len(text) / 1000]
        for word, axis in TOPICS.items():
            if word in text:
                vector[axis] = 1.0
        vectors.append(vector)
    return vectors


def chain_reply(steps: int = 2, answer: str = "7") -> Any:
    """A FakeLM function: a zero-shot chain naming its question, with ``steps`` reasoning lines."""

    def reply(call: Any) -> dict[str, str]:
        question = call.inputs["question"]
        return {"reasoning": "\n".join(f"step {i} of {question}" for i in range(steps)), "answer": answer}

    return reply


def zero_shot_calls(lm: Any) -> list[Any]:
    return [c for c in lm.calls if "Let's think step by step." in c.messages[0]["content"]]


# --- auto_cot --------------------------------------------------------------------------------------


def test_one_demo_per_cluster_nearest_the_centroid(fake: Any) -> None:
    lm = fake(fn=chain_reply())
    program = build("auto_cot", questions=POOL, k=3, embed=embed)
    prediction = program(question="How many pears?")
    picked = [POOL[i] for i in prediction.demo_indices]
    assert sorted(prediction.demo_indices) == prediction.demo_indices and len(picked) == 3
    assert {next(w for w in TOPICS if w in q) for q in picked} == set(TOPICS)  # one per topic
    assert prediction.demo_questions == picked
    assert all(p["passed_filters"] for p in program.picks)
    assert len(zero_shot_calls(lm)) == 3 and len(lm.calls) == 4
    assert prediction.answer == "7" and prediction.reasoning


def test_the_length_filter_skips_a_long_question(fake: Any) -> None:
    long_question = "How many apples " + "really " * 70 + "are there?"
    pool = [long_question, "Ann has 2 apples. How many apples?", "Two trains meet. When do the trains meet?"]
    # The long question is nearest its centroid (exact axis, no length offset), so only the filter skips it.
    vectors = {long_question: [1.0, 0.0], pool[1]: [0.9, 0.1], pool[2]: [0.0, 1.0]}
    lm = fake(fn=chain_reply())
    program = build("auto_cot", questions=pool, k=2, embed=lambda texts: [vectors[t] for t in texts])
    prediction = program(question="q")
    assert prediction.demo_indices == [1, 2]
    asked = [c.inputs["question"] for c in zero_shot_calls(lm)]
    assert long_question not in asked and len(asked) == 2


def test_a_chain_with_too_many_steps_moves_to_the_next_question(fake: Any) -> None:
    pool = ["apples one?", "apples two?", "apples three?", "trains?"]
    vectors = {pool[0]: [1.0, 0.0], pool[1]: [0.9, 0.3], pool[2]: [0.9, -0.28], pool[3]: [0.0, 1.0]}

    def reply(call: Any) -> dict[str, str]:  # the nearest apples question (one) gets a too-long chain
        return chain_reply(8 if call.inputs["question"] == "apples one?" else 2)(call)

    lm = fake(fn=reply)
    program = build("auto_cot", questions=pool, k=2, embed=lambda texts: [vectors[t] for t in texts], num_threads=1)
    assert [d["question"] for d in program.build_demos()] == ["apples three?", "trains?"]
    asked = [c.inputs["question"] for c in zero_shot_calls(lm)]
    assert sorted(asked[:2]) == ["apples one?", "trains?"] and asked[2:] == ["apples three?"]  # round 2


def test_when_no_question_passes_the_nearest_is_used_and_recorded(fake: Any) -> None:
    fake(fn=chain_reply(steps=9))
    program = build("auto_cot", questions=["apples?", "more apples?"], k=1, embed=lambda t: [[1.0, 0.0]] * len(t))
    prediction = program(question="q")
    assert prediction.demo_indices == [0] and program.picks == [{"index": 0, "cluster": 0, "passed_filters": False}]


def test_demos_are_built_once_and_shown_with_their_reasoning(fake: Any) -> None:
    lm = fake(fn=chain_reply())
    program = build("auto_cot", questions=POOL, k=3, embed=embed)
    assert program.demos_built is None
    program(question="first?")
    program(question="second?")
    assert len(zero_shot_calls(lm)) == 3 and len(lm.calls) == 5
    final = lm.calls[-1]
    assert "second?" in final.last_user_message
    demo_text = "\n".join(m["content"] for m in final.messages[1:-1])  # the FEW_SHOT_EXAMPLES turns
    assert program.demos_built is not None
    for demo in program.demos_built:
        assert demo["question"] in demo_text and f"step 1 of {demo['question']}" in demo_text
    assert "solved automatically" in final.messages[0]["content"]


def test_concurrent_first_calls_build_the_demos_once(fake: Any) -> None:
    lm = fake(fn=chain_reply())
    program = build("auto_cot", questions=POOL, k=3, embed=embed)
    # Each thread runs in a copy of this context, so the test's FakeLM reaches it.
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(program.build_demos,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(zero_shot_calls(lm)) == 3


def test_k_is_clamped_to_the_pool_and_duplicates(fake: Any) -> None:
    fake(fn=chain_reply())
    program = build("auto_cot", questions=["a apples?", "a apples?"], k=8, embed=embed)
    assert len(program.build_demos()) == 1


def test_kmeans_is_deterministic_and_tfidf_separates_topics() -> None:
    vectors = tfidf_embed(
        [
            "apples pears",
            "Pears, apples!",
            "trains rails",
            "rails trains station",
            "coins dollars",
            "dollars coins cents",
        ]
    )
    first, _ = kmeans(vectors, 3, seed=1)
    again, _ = kmeans(vectors, 3, seed=1)
    assert np.array_equal(first, again)
    assert first[0] == first[1] and first[2] == first[3] and first[4] == first[5]
    assert len(set(first.tolist())) == 3


def test_other_signatures_take_dict_questions(fake: Any) -> None:
    lm = fake(fn=lambda call: {"reasoning": "one step.", "label": "pos"})
    pool = [{"text": "great apples", "extra": 1}, {"text": "bad trains"}]
    prediction = build("auto_cot", "text -> label", questions=pool, k=2, embed=embed)(text="fine")
    assert prediction.label == "pos" and prediction.demo_questions == pool and len(lm.calls) == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"questions": "one string"}, "option questions"),
        ({"questions": []}, "option questions"),
        ({"questions": [1, 2]}, "questions #1"),
        ({"questions": ["ok", ""]}, "questions #2 has no question"),
        ({"questions": [{"text": "x"}]}, "questions #1 has no question"),
        ({"k": 0}, "k=0"),
        ({"embed": "model"}, "embed"),
        ({"max_steps": 0}, "max_steps=0"),
        ({"max_question_words": -1}, "max_question_words=-1"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_auto_cot_bad_options_are_typed_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build("auto_cot", **{"questions": POOL, **options})


def test_missing_questions_and_a_bad_embedding_are_typed_errors(fake: Any) -> None:
    with pytest.raises(InputError, match="questions"):
        build("auto_cot")
    fake(fn=chain_reply())
    with pytest.raises(InputError, match="option embed"):
        build("auto_cot", questions=POOL, embed=lambda texts: [[1.0]])(question="q")


# --- scot ------------------------------------------------------------------------------------------

PLAN_TEXT = "Input: numbers: list\nOutput: total: int\n1. for n in numbers:\n   if n > 0: add n"


def test_scot_plans_then_writes_code_from_the_plan(fake: Any) -> None:
    lm = fake([{"plan": PLAN_TEXT}, {"code": "def total(numbers):\n    return sum(n for n in numbers if n > 0)"}])
    prediction = build("scot", "requirement -> code")(requirement="Sum the positive numbers.")
    assert len(lm.calls) == 2
    assert lm.calls[0].output_fields == ["plan"]
    assert "sequence" in lm.calls[0].messages[0]["content"] and "loop" in lm.calls[0].messages[0]["content"]
    assert PLAN_TEXT in lm.calls[1].last_user_message and lm.calls[1].output_fields == ["code"]
    assert prediction.plan == PLAN_TEXT and prediction.code.startswith("def total")


def test_scot_one_call_writes_the_plan_before_the_outputs(fake: Any) -> None:
    lm = fake([{"plan": PLAN_TEXT, "answer": "6"}])
    prediction = build("scot", one_call=True)(question="Sum of the positives in 1, -2, 5?")
    assert len(lm.calls) == 1 and lm.calls[0].output_fields == ["plan", "answer"]
    assert prediction.plan == PLAN_TEXT and prediction.answer == "6"


def test_scot_bad_options_are_typed_errors() -> None:
    with pytest.raises(InputError, match="one_call"):
        build("scot", one_call="yes")
    with pytest.raises(InputError, match="'plan'"):
        build("scot", "plan -> code")
