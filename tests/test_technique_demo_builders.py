"""active_prompt and synthetic_prompting: demos built once (uncertainty ranking + annotation; backward synthesis
+ forward check + selection), then one few-shot CoT call per question."""

from __future__ import annotations

import math
from typing import Any

import pytest

from promptkit import techniques
from promptkit.errors import InputError
from promptkit.techniques.active_prompt import uncertainty
from promptkit.techniques.demos import COT_DEMOS

POOL = ["What is 2 + 2?", "What is 17 * 23?", "What is 5 - 1?"]


def test_uncertainty_metrics() -> None:
    assert uncertainty(["10", "10.0", "ten"], 3, "disagreement") == pytest.approx(2 / 3)
    assert uncertainty(["4", "4"], 3, "disagreement") == pytest.approx(2 / 3)  # a failed sample is its own answer
    assert uncertainty(["a", "b"], 2, "entropy") == pytest.approx(math.log(2))
    assert uncertainty(["a", "a"], 2, "entropy") == 0


def _sampler(call: Any) -> dict[str, Any]:
    """Zero-shot CoT samples: the hard question gets a different answer each time, the others agree."""
    if "17 * 23" in call.inputs["question"]:
        return {"reasoning": "r", "answer": str(390 + call.index)}
    return {"reasoning": "r", "answer": "4"}


def test_active_prompt_annotates_the_most_uncertain_questions(fake: Any) -> None:
    annotated: list[str] = []

    def annotate(example: dict[str, Any]) -> dict[str, Any]:
        annotated.append(example["question"])
        return {"reasoning": "17 * 23 = 391.", "answer": "391"}

    lm = fake(fn=_sampler)
    program = techniques.build("active_prompt", questions=POOL, annotate=annotate, k=3, n_demos=1)
    first = program(question="What is 3 * 3?")
    assert annotated == ["What is 17 * 23?"]
    assert len(lm.calls) == 3 * 3 + 1  # pool x k samples, then the answer
    assert first.uncertainty[0]["question"] == {"question": "What is 17 * 23?"} and first.uncertainty[0]["score"] == 1
    final = lm.calls[-1]
    assert "17 * 23 = 391." in final.prompt and "What is 2 + 2?" not in final.prompt  # the annotated demo only
    program(question="What is 4 * 4?")
    assert len(lm.calls) == 3 * 3 + 2 and annotated == ["What is 17 * 23?"]  # built once


def test_active_prompt_default_pool_is_the_human_annotated_exemplars(fake: Any) -> None:
    lm = fake(fn=lambda call: {"reasoning": "r", "answer": str(call.index)})
    prediction = techniques.build("active_prompt", n_demos=2)(question="What is 3 * 3?")
    assert len(prediction.demo_questions) == 2 and len(lm.calls) == len(COT_DEMOS) * 3 + 1
    assert COT_DEMOS[0]["reasoning"] in lm.calls[-1].prompt


def test_active_prompt_needs_annotations_for_its_own_pool() -> None:
    with pytest.raises(InputError, match="no annotate"):
        techniques.build("active_prompt", questions=POOL)
    with pytest.raises(InputError, match="metric"):
        techniques.build("active_prompt", metric="variance")
    with pytest.raises(InputError, match="questions #2 is a int"):
        techniques.build("active_prompt", questions=["q", 3], annotate=lambda ex: {})


def _synthesizer(call: Any) -> dict[str, Any]:
    if "topic" in call.inputs:  # backward: a reasoning chain, then the question it answers
        topic, steps = call.inputs["topic"], call.inputs["n_steps"]
        reasoning = "\n".join(f"step {i}" for i in range(steps))
        answer = "7" if topic != "trains" else "8"
        return {"reasoning": reasoning, "question": f"A {topic} question with {steps} steps?", "answer": answer}
    return {"reasoning": "forward", "answer": "7" if "apples" in call.inputs["question"] else "9"}


def test_synthetic_prompting_keeps_what_the_forward_step_confirms(fake: Any) -> None:
    lm = fake(fn=_synthesizer)
    program = techniques.build(
        "synthetic_prompting",
        topics=["apples", "trains", "money"],
        n_synthetic=2,
        max_tries=3,
        n_demos=1,
        min_steps=2,
        max_steps=3,
    )
    prediction = program(question="How many?")
    kinds = ["backward" if "topic" in c.inputs else "forward" for c in lm.calls]
    assert kinds == ["backward", "forward"] * 3 + ["forward"]
    backward = [c for c in lm.calls if "topic" in c.inputs]
    assert [(c.inputs["topic"], c.inputs["n_steps"]) for c in backward] == [("apples", 2), ("trains", 3), ("money", 2)]
    assert [e["topic"] for e in prediction.synthesized] == ["apples"]  # trains disagreed (8 vs 9), money 7 vs 9
    assert [r["topic"] for r in prediction.rejected] == ["trains", "money"]
    assert prediction.demos[0]["question"] == "A apples question with 2 steps?" and not prediction.from_seeds
    assert COT_DEMOS[0]["question"] in lm.calls[1].prompt  # the forward step solves with the seeds as demos


def test_synthetic_prompting_selects_the_most_complex_per_cluster(fake: Any) -> None:
    fake(
        fn=lambda call: (
            {
                "reasoning": "\n".join(["s"] * call.inputs["n_steps"]),
                "question": f"{call.inputs['topic']} question",
                "answer": "7",
            }
            if "topic" in call.inputs
            else {"reasoning": "f", "answer": "7"}
        )
    )
    program = techniques.build(
        "synthetic_prompting",
        topics=["apples", "apples", "trains"],
        n_synthetic=3,
        max_tries=3,
        n_demos=2,
        min_steps=2,
        max_steps=4,
    )
    demos = program.build_demos()
    assert [(d["question"], d["reasoning"].count("s")) for d in demos] == [
        ("apples question", 3),
        ("trains question", 4),
    ]


def test_synthetic_prompting_falls_back_to_the_seeds(fake: Any) -> None:
    fake(
        fn=lambda call: (
            {"reasoning": "r", "question": "q?", "answer": "1"}
            if "topic" in call.inputs
            else {"reasoning": "r", "answer": "2"}
        )
    )
    prediction = techniques.build("synthetic_prompting", max_tries=2)(question="How many?")
    assert prediction.from_seeds and prediction.demos[0]["question"] == COT_DEMOS[0]["question"]
    with pytest.raises(InputError, match="needs demos"):
        techniques.build("synthetic_prompting", "text -> label")
    with pytest.raises(InputError, match="topics"):
        techniques.build("synthetic_prompting", topics="apples")
