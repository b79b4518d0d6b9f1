"""Complexity-based prompting and federated self-consistency on FakeLM: which demos are chosen and shown,
the vote over the most complex chains only, paraphrases (generated or from a pool) each answered and voted,
typed errors for bad options, unparseable answers dropped."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.errors import InputError, ParseError
from promptkit.techniques import build
from promptkit.techniques.complexity import reasoning_steps
from promptkit.techniques.demos import COT_DEMOS


def cot(answer: str, steps: int = 1, tag: str = "s") -> dict[str, str]:
    return {"reasoning": "\n".join(f"{tag} step {i}" for i in range(steps)), "answer": answer}


def demo(name: str, steps: int) -> dict[str, str]:
    return {
        "question": f"question {name}?",
        "reasoning": "\n".join(f"{name} line {i}" for i in range(steps)),
        "answer": name,
    }


POOL = [demo("short", 1), demo("long", 5), demo("tie_a", 3), demo("mid", 2), demo("tie_b", 3)]


# --- complex_cot -----------------------------------------------------------------------------------


def test_reasoning_steps_counts_lines_or_the_sentences_of_one_line() -> None:
    assert reasoning_steps("a\n\n b\nc\n") == 3
    assert reasoning_steps("There are 3 cars. 2 more arrive. 3 + 2 = 5.") == 3
    assert reasoning_steps("It costs 2.5 dollars") == 1
    assert reasoning_steps("") == 0 and reasoning_steps(None) == 0


def test_the_most_complex_demos_are_chosen_ties_in_pool_order(fake: Any) -> None:
    lm = fake([cot("42")])
    program = build("complex_cot", demos=POOL, k=3)
    prediction = program(question="6 * 7?")
    assert [d["answer"] for d in prediction.demos_used] == ["long", "tie_a", "tie_b"]
    assert len(lm.calls) == 1 and prediction.answer == "42"
    demo_text = "\n".join(m["content"] for m in lm.calls[0].messages[1:-1])  # the FEW_SHOT_EXAMPLES turns
    for name in ("long", "tie_a", "tie_b"):
        assert f"question {name}?" in demo_text and f"{name} line 0" in demo_text
    assert "question short?" not in demo_text and "question mid?" not in demo_text
    assert demo_text.index("question long?") < demo_text.index("question tie_a?") < demo_text.index("question tie_b?")
    assert "3 worked examples" in lm.calls[0].messages[0]["content"]


def test_default_demos_are_the_cot_fewshot_pool_most_complex_first(fake: Any) -> None:
    lm = fake([cot("5")])
    prediction = build("complex_cot", k=2)(question="q")
    # The built-in exemplars are one paragraph each: 3, 3 and 4 sentences -> Leah's (4), then the tie in order.
    assert prediction.demos_used == [COT_DEMOS[2], COT_DEMOS[0]]
    assert COT_DEMOS[1]["question"] not in lm.calls[0].messages[0]["content"] + lm.calls[0].last_user_message


def test_vote_only_over_the_top_k_most_complex_chains(fake: Any) -> None:
    # The three short chains agree on 7 (a plain majority), the two longest agree on 8.
    samples = [cot("7", 1, "a"), cot("8", 6, "b"), cot("7", 2, "c"), cot("8", 5, "d"), cot("7", 1, "e")]
    lm = fake(samples)
    prediction = build("complex_cot", n=5, top_k=2, temperature=0.9)(question="q")
    assert len(lm.calls) == 5
    assert all(call.config["temperature"] == 0.9 for call in lm.calls)
    assert prediction.votes == {"8": 2}
    assert prediction.answer == "8" and prediction.reasoning.startswith("b step")
    assert prediction.voters == [1, 3] and len(prediction.samples) == 5


def test_default_top_k_is_the_longer_half_and_ties_go_to_the_first_seen(fake: Any) -> None:
    fake([cot("1", 1), cot("2", 4), cot("3", 4), cot("3", 1)])
    prediction = build("complex_cot", n=4)(question="q")
    assert prediction.voters == [1, 2]
    assert prediction.votes == {"2": 1, "3": 1} and prediction.answer == "2"


def test_n_1_is_one_plain_call(fake: Any) -> None:
    lm = fake([cot("9", 3)])
    prediction = build("complex_cot")(question="q")
    assert len(lm.calls) == 1 and prediction.votes == {"9": 1} and prediction.answer == "9"


def test_complex_cot_drops_unparseable_samples(fake: Any) -> None:
    fake([cot("4", 3), "garbage", cot("4", 2)])
    prediction = build("complex_cot", n=3, top_k=3)(question="q")
    assert prediction.votes == {"4": 2} and len(prediction.failed_samples) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0}, "k=0"),
        ({"n": 0}, "n=0"),
        ({"top_k": 0}, "top_k=0"),
        ({"temperature": 0}, "temperature=0"),
        ({"demos": []}, "demos is empty"),
        ({"demos": [{"question": "q", "answer": "a"}]}, "no reasoning"),
    ],
)
def test_complex_cot_bad_options_are_typed_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build("complex_cot", **options)


def test_complex_cot_other_signatures_need_demos() -> None:
    with pytest.raises(InputError, match="needs demos"):
        build("complex_cot", "text -> label")


# --- federated_sc ----------------------------------------------------------------------------------


def test_paraphrase_call_then_one_answer_per_question(fake: Any) -> None:
    paraphrases = ["How much is six times seven?", "What do you get multiplying 6 by 7?", "6 times 7 equals?"]
    lm = fake([{"paraphrases": paraphrases}, cot("42"), cot("42"), cot("41"), cot("The answer is 42.")])
    prediction = build("federated_sc", n=3)(question="What is 6 * 7?")
    assert len(lm.calls) == 5
    assert "paraphrases" in lm.calls[0].output_fields and "3 different ways" in lm.calls[0].messages[0]["content"]
    asked = ["What is 6 * 7?", *paraphrases]
    for call, question in zip(lm.calls[1:], asked, strict=True):
        assert question in call.last_user_message and "Let's think step by step." in call.messages[0]["content"]
    assert prediction.paraphrases == paraphrases and prediction.questions == asked
    assert prediction.votes == {"42": 3, "41": 1} and prediction.answer == "42"
    assert len(prediction.samples) == 4


def test_generated_paraphrases_are_cleaned(fake: Any) -> None:
    written = ["  Same thing?  ", "", "same   THING?", "What is 6 * 7?", "Other one?", "Third?"]
    lm = fake([{"paraphrases": written}, cot("1"), cot("1"), cot("1")])
    prediction = build("federated_sc", n=3, include_original=False)(question="What is 6 * 7?")
    assert prediction.paraphrases == ["Same thing?", "Other one?", "Third?"]
    assert len(lm.calls) == 4 and "What is 6 * 7?" not in lm.calls[1].last_user_message


def test_a_pool_replaces_the_paraphrase_call(fake: Any) -> None:
    asked: list[str] = []

    def pool(question: str) -> list[str]:
        asked.append(question)
        return ["Six sevens are?", "Seven sixes are?"]

    lm = fake([cot("42"), cot("40"), cot("40")])
    prediction = build("federated_sc", n=5, pool=pool)(question="6 * 7?")
    assert asked == ["6 * 7?"] and len(lm.calls) == 3
    assert all("paraphrases" not in call.output_fields for call in lm.calls)
    assert "Seven sixes are?" in lm.calls[2].last_user_message
    assert prediction.votes == {"42": 1, "40": 2} and prediction.answer == "40"


def test_a_mapping_pool_and_ties_go_to_the_original_question(fake: Any) -> None:
    lm = fake([cot("A"), cot("B")])
    prediction = build("federated_sc", pool={"q?": ["q reworded?"], "other": []})(question="q?")
    assert len(lm.calls) == 2 and prediction.votes == {"a": 1, "b": 1} and prediction.answer == "A"


def test_an_unparseable_answer_is_dropped_and_recorded(fake: Any) -> None:
    fake([cot("3"), "no fields at all", cot("3")])
    prediction = build("federated_sc", pool=["p1?", "p2?"])(question="q?")
    assert prediction.votes == {"3": 2} and len(prediction.samples) == 2
    assert len(prediction.failed_samples) == 1 and "question 1" in prediction.failed_samples[0]


def test_all_answers_unparseable_is_a_parse_error(fake: Any) -> None:
    fake(["garbage", "more garbage"])
    with pytest.raises(ParseError, match="none of the 2 answers"):
        build("federated_sc", pool=["p?"])(question="q?")


def test_paraphrases_the_first_str_input_of_other_signatures(fake: Any) -> None:
    label = {"reasoning": "r", "label": "pos"}
    lm = fake([{"paraphrases": ["Is it good?"]}, label, label])
    prediction = build("federated_sc", "k: int, query: str -> label", n=1)(k=2, query="Good?")
    assert "same `query`" in lm.calls[0].messages[0]["content"]
    assert "Is it good?" not in lm.calls[1].last_user_message and "Is it good?" in lm.calls[2].last_user_message
    assert prediction.label == "pos"


@pytest.mark.parametrize(
    ("signature", "options", "message"),
    [
        ("question -> answer", {"pool": 3}, "option pool=3"),
        ("question -> answer", {"pool": {"q": "not a list"}}, "option pool="),
        ("question -> answer", {"n": 0}, "n=0"),
        ("question -> answer", {"question_field": "nope"}, "question_field='nope'"),
        ("number: int -> answer", {}, "question_field=None"),
    ],
)
def test_federated_bad_options_are_typed_errors(signature: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build("federated_sc", signature, **options)


def test_a_pool_callable_returning_garbage_names_the_option(fake: Any) -> None:
    fake([cot("1")])
    with pytest.raises(InputError, match="option pool returned"):
        build("federated_sc", pool=lambda q: "not a list")(question="q?")
