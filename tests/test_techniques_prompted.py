"""Single-call techniques against FakeLM: one call each, the template text in the system message,
the technique's own fields written before the answer, demos in FEW_SHOT_EXAMPLES."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from promptkit.errors import InputError
from promptkit.techniques import build


def system(call: Any) -> str:
    return next(m["content"] for m in call.messages if m["role"] == "system")


def field_order(call: Any, *names: str) -> list[int]:
    """Where each output marker appears in the OUTPUT_FORMAT section of the system message."""
    text = system(call).split("<OUTPUT_FORMAT>")[1]
    return [text.index(f"[[ ## {name} ## ]]") for name in names]


def test_vanilla_sends_the_task_as_is_in_one_call(fake: Any) -> None:
    lm = fake([{"answer": "Paris"}])
    prediction = build("vanilla", "question -> answer", persona="You are a geography teacher.")(question="Capital?")
    assert prediction.answer == "Paris"
    assert len(lm.calls) == 1
    text = system(lm.calls[0])
    assert "You are a geography teacher." in text and "Given the fields `question`" in text
    assert "step by step" not in text


def test_instructed_adds_the_ignore_instruction(fake: Any) -> None:
    lm = fake([{"answer": "3"}])
    build("instructed")(question="Tom has 3 apples; the sky is blue. How many apples?")
    assert "Feel free to ignore irrelevant information given in the questions." in system(lm.calls[0])


def test_cot_zeroshot_puts_the_trigger_in_the_system_message_and_reasoning_first(fake: Any) -> None:
    lm = fake([{"reasoning": "2 + 2 is 4", "answer": 4}])
    prediction = build("cot_zeroshot", "question -> answer: int")(question="2 + 2?")
    assert prediction.answer == 4 and prediction.reasoning == "2 + 2 is 4"
    assert len(lm.calls) == 1
    assert "Let's think step by step." in system(lm.calls[0])
    reasoning_at, answer_at = field_order(lm.calls[0], "reasoning", "answer")
    assert reasoning_at < answer_at


def test_cot_zeroshot_trigger_is_configurable(fake: Any) -> None:
    lm = fake([{"reasoning": "r", "answer": "a"}])
    build("cot_zeroshot", trigger="Let's work this out in a step by step way to be sure we have the right answer.")(
        question="q"
    )
    text = system(lm.calls[0])
    assert "to be sure we have the right answer" in text and "Let's think step by step." not in text


def test_cot_fewshot_gives_demos_with_reasoning_as_turns(fake: Any) -> None:
    lm = fake([{"reasoning": "3 + 4 = 7", "answer": "7"}])
    prediction = build("cot_fewshot")(question="3 + 4?")
    assert prediction.answer == "7"
    messages = lm.calls[0].messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant"] * 1 + ["user", "assistant"] * 2 + ["user"]
    assert "There are 15 trees in the grove" in messages[1]["content"]
    assert "[[ ## reasoning ## ]]\nThere are 15 trees originally" in messages[2]["content"]
    assert "3 worked examples" in messages[0]["content"]


def test_cot_fewshot_takes_user_demos_for_any_signature(fake: Any) -> None:
    demos = [{"text": "I loved it", "reasoning": "'loved' is positive", "label": "pos"}]
    lm = fake([{"reasoning": "'awful' is negative", "label": "neg"}])
    prediction = build("cot_fewshot", "text -> label", demos=demos)(text="awful")
    assert prediction.label == "neg"
    assert "'loved' is positive" in lm.calls[0].messages[2]["content"]
    assert "1 worked example in" in system(lm.calls[0])


def test_cot_fewshot_rejects_bad_demos() -> None:
    with pytest.raises(InputError, match="demo #1 has no reasoning"):
        build("cot_fewshot", demos=[{"question": "q", "answer": "a"}])
    with pytest.raises(InputError, match="needs demos for signature"):
        build("cot_fewshot", "text -> label")
    with pytest.raises(InputError, match="demos is empty"):
        build("cot_fewshot", demos=[])


def test_thread_of_thought_walks_the_context(fake: Any) -> None:
    lm = fake([{"reasoning": "part 1 says X", "answer": "X"}])
    prediction = build("thread_of_thought", "context, question -> answer")(context="passages...", question="what?")
    assert prediction.answer == "X"
    assert "Walk me through this context in manageable parts step by step" in system(lm.calls[0])
    assert "passages..." in lm.calls[0].last_user_message


def test_analogical_recalls_problems_before_answering(fake: Any) -> None:
    lm = fake([{"knowledge": "area = side^2", "relevant_problems": "P1... P2...", "answer": "16"}])
    prediction = build("analogical", n_exemplars=2, with_knowledge=True)(question="Area of a square of side 4?")
    assert prediction.relevant_problems == "P1... P2..." and prediction.answer == "16"
    text = system(lm.calls[0])
    assert "Recall 2 relevant and distinct problems" in text
    knowledge_at, problems_at, answer_at = field_order(lm.calls[0], "knowledge", "relevant_problems", "answer")
    assert knowledge_at < problems_at < answer_at
    with pytest.raises(InputError, match="n_exemplars"):
        build("analogical", n_exemplars=0)


def test_metacognitive_has_five_stages_in_order(fake: Any) -> None:
    answer = {
        "understanding": "u",
        "preliminary_judgment": "p",
        "critical_evaluation": "c",
        "answer": "yes",
        "confidence": "90%: clear",
    }
    lm = fake([answer])
    prediction = build("metacognitive")(question="Is water wet?")
    assert prediction.answer == "yes" and prediction.confidence == "90%: clear"
    stages = ("understanding", "preliminary_judgment", "critical_evaluation", "answer", "confidence")
    order = field_order(lm.calls[0], *stages)
    assert order == sorted(order)
    assert "Critically assess" in system(lm.calls[0])


def test_contrastive_cot_shows_a_correct_and_a_wrong_explanation(fake: Any) -> None:
    demos = [
        {
            "question": "1+1?",
            "reasoning": "one plus one is two",
            "wrong_reasoning": "one plus one is eleven",
            "answer": "2",
        }
    ]
    lm = fake([{"reasoning": "two plus two is four", "answer": "4"}])
    prediction = build("contrastive_cot", demos=demos)(question="2+2?")
    assert prediction.answer == "4"
    text = system(lm.calls[0])
    assert "Explanation: one plus one is two" in text and "Wrong explanation: one plus one is eleven" in text
    with pytest.raises(InputError, match="wrong_reasoning"):
        build("contrastive_cot", demos=[{"question": "q", "reasoning": "r", "answer": "a"}])


def test_rephrase_and_respond_one_step(fake: Any) -> None:
    lm = fake([{"rephrased_question": "Which is heavier, ...?", "answer": "same"}])
    prediction = build("rephrase_and_respond")(question="A kilo of feathers or a kilo of iron?")
    assert prediction.rephrased_question.startswith("Which") and prediction.answer == "same"
    assert len(lm.calls) == 1
    assert "Rephrase and expand the question, and respond." in system(lm.calls[0])


def test_rephrase_and_respond_two_step_feeds_the_rephrasing_to_the_answer(fake: Any) -> None:
    lm = fake([{"rephrased_question": "EXPANDED QUESTION"}, {"answer": "42"}])
    prediction = build("rephrase_and_respond", two_step=True)(question="q?")
    assert prediction.answer == "42" and prediction.rephrased_question == "EXPANDED QUESTION"
    first, second = lm.calls
    assert first.output_fields == ["rephrased_question"]
    assert "EXPANDED QUESTION" in second.last_user_message and "q?" in second.last_user_message
    assert second.output_fields == ["answer"]


def test_added_field_that_clashes_with_the_signature_is_refused() -> None:
    with pytest.raises(InputError, match="already has one"):
        build("cot_zeroshot", "question -> reasoning, answer")


def test_missing_input_is_a_typed_error(fake: Any) -> None:
    fake([{"answer": "x"}])
    with pytest.raises(InputError, match="missing input field"):
        build("vanilla", "context, question -> answer")(question="q")


def test_instructions_stay_rewritable_by_optimizers(fake: Any) -> None:
    """The rendered instructions live on the signature, so an optimizer's rewrite is what gets sent."""
    program = build("cot_zeroshot")
    predictor = program.predictors()[0]
    predictor.signature = predictor.signature.with_instructions("REWRITTEN BY AN OPTIMIZER")
    lm = fake([{"reasoning": "r", "answer": "a"}])
    program(question="q")
    assert "REWRITTEN BY AN OPTIMIZER" in system(lm.calls[0])
    assert isinstance(program, dspy.Module)
