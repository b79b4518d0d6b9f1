"""Decomposed Prompting and THOR on FakeLM: the calls each makes, what every prompt contains, how
handlers are dispatched and failures recorded."""

from __future__ import annotations

from typing import Any, Literal

import dspy
import pytest

from promptkit.errors import InputError, ParseError
from promptkit.techniques import build


def system(call: Any) -> str:
    return call.messages[0]["content"]


def test_decomp_dispatches_in_order_and_substitutes_earlier_results(fake: Any) -> None:
    seen: list[str] = []

    def capital(country: str) -> str:
        """looks up the capital of a country"""
        seen.append(country)
        return "Paris"

    lm = fake(
        [
            {"program": ["[capital] France", "1. [qa] How many letters are in the name #1?"]},
            {"result": "5"},
            {"answer": "5"},
        ]
    )
    prediction = build("decomp", handlers={"capital": capital})(question="How many letters has France's capital?")
    assert seen == ["France"] and len(lm.calls) == 3
    assert prediction.answer == "5"
    assert prediction.calls == [
        {"handler": "capital", "sub_question": "France", "result": "Paris", "error": None},
        {"handler": "qa", "sub_question": "How many letters are in the name Paris?", "result": "5", "error": None},
    ]
    plan, sub, final = lm.calls
    assert "[capital] looks up the capital of a country" in system(plan) and "[qa]" in system(plan)
    assert plan.output_fields == ["program"]
    assert sub.output_fields == ["result"] and "How many letters are in the name Paris?" in sub.last_user_message
    assert "You are the [qa] sub-task handler" in system(sub) and "self-contained question" in system(sub)
    assert "#1 [capital] France\n=> Paris" in final.last_user_message
    assert "#2 [qa] How many letters are in the name Paris?\n=> 5" in final.last_user_message


def test_decomp_string_handler_is_its_own_sub_prompt(fake: Any) -> None:
    lm = fake([{"program": ["[reverse] a, b, c"]}, {"result": "c, b, a"}, {"answer": "c, b, a"}])
    program = build("decomp", handlers={"reverse": "Reverse the order of the comma-separated list."})
    prediction = program(question="Reverse a, b, c")
    assert prediction.calls[0]["result"] == "c, b, a"
    assert "Reverse the order of the comma-separated list." in system(lm.calls[1])
    assert {name for name, _ in program.named_predictors()} >= {"sub_prompts['reverse']", "sub_prompts['qa']"}


def test_decomp_records_unknown_malformed_and_raising_calls(fake: Any) -> None:
    def calc(expression: str) -> str:
        raise ZeroDivisionError("division by zero")

    lm = fake(
        [
            {"program": ["[search] Paris", "just a sentence", "[calc] 1/0", "[qa] double #3", "[qa] what is #9?"]},
            {"answer": "unknown"},
        ]
    )
    prediction = build("decomp", handlers={"calc": calc})(question="q")
    assert len(lm.calls) == 2  # no sub-call reached the LM
    errors = [c["error"] for c in prediction.calls]
    assert "unknown handler 'search'" in errors[0] and "qa, calc" in errors[0]
    assert "not of the form [handler] sub-question" in errors[1]
    assert errors[2] == "calc raised ZeroDivisionError: division by zero"
    assert "#3 failed" in errors[3] and "#9 names no earlier call" in errors[4]
    assert all(c["result"].startswith("Error: ") for c in prediction.calls)
    final = lm.calls[1].last_user_message
    assert "Error: calc raised ZeroDivisionError: division by zero" in final and "unknown handler 'search'" in final


def test_decomp_bounds_the_calls(fake: Any) -> None:
    calls: list[str] = []

    def echo(text: str) -> str:
        calls.append(text)
        return text

    lm = fake([{"program": ["[echo] a\n[echo] b", "[echo] c"]}, {"answer": "x"}])
    prediction = build("decomp", handlers={"echo": echo}, max_calls=2)(question="q")
    assert calls == ["a", "b"] and prediction.dropped == ["[echo] c"] and len(prediction.calls) == 2
    assert "Use at most 2 calls" in system(lm.calls[0])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"handlers": [print]}, "option handlers must be a mapping"),
        ({"handlers": {"calc": 3}}, r"handlers\['calc'\] is a int"),
        ({"handlers": {"calc": "  "}}, r"handlers\['calc'\]"),
        ({"handlers": {"not a name": print}}, "option handlers has the name"),
        ({"handlers": {"Calc": print, "calc": print}}, "twice"),
        ({"max_calls": 0}, "max_calls"),
    ],
)
def test_decomp_bad_options_are_input_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        build("decomp", **options)


def test_decomp_user_handler_replaces_the_default_of_the_same_name(fake: Any) -> None:
    lm = fake([{"program": ["[QA] anything"]}, {"answer": "a"}])
    prediction = build("decomp", handlers={"qa": lambda s: "from python"})(question="q")
    assert prediction.calls[0]["result"] == "from python" and len(lm.calls) == 2


class Sentiment(dspy.Signature):
    """Classify the sentiment polarity towards the target."""

    sentence: str = dspy.InputField()
    target: str = dspy.InputField()
    polarity: Literal["positive", "negative", "neutral"] = dspy.OutputField()


def test_thor_makes_three_chained_calls_and_parses_a_literal(fake: Any) -> None:
    lm = fake(
        [
            {"mentioned_aspect": "the battery life"},
            {"implicit_opinion": "needing a charger all day is annoying"},
            {"polarity": "negative"},
        ]
    )
    sentence = "I had to carry the charger everywhere with this phone."
    prediction = build("thor", Sentiment)(sentence=sentence, target="phone")
    assert len(lm.calls) == 3
    assert prediction.polarity == "negative"
    assert prediction.aspect == "the battery life" and prediction.opinion == "needing a charger all day is annoying"
    aspect, opinion, answer = lm.calls
    assert "which specific aspect of the target (given in `target`)" in system(aspect)
    assert aspect.output_fields == ["mentioned_aspect"] and sentence in aspect.last_user_message
    assert "the battery life" in opinion.last_user_message and "based on common sense" in system(opinion)
    assert "the battery life" in answer.last_user_message
    assert "needing a charger all day is annoying" in answer.last_user_message
    assert answer.output_fields == ["polarity"]


def test_thor_rejects_a_label_outside_the_literal(fake: Any) -> None:
    fake([{"mentioned_aspect": "a"}, {"implicit_opinion": "o"}, {"polarity": "great"}])
    with pytest.raises(ParseError, match="not a valid Literal"):
        build("thor", Sentiment)(sentence="s", target="t")


def test_thor_uses_the_whole_input_without_a_target(fake: Any) -> None:
    lm = fake([{"mentioned_aspect": "arithmetic"}, {"implicit_opinion": "a product"}, {"answer": "42"}])
    prediction = build("thor")(question="What is six times seven?")
    assert prediction.answer == "42"
    assert "what specific aspect or topic is it about?" in system(lm.calls[0])


def test_thor_target_field_option(fake: Any) -> None:
    lm = fake([{"mentioned_aspect": "a"}, {"implicit_opinion": "o"}, {"polarity": "neutral"}])
    build("thor", "review, entity -> polarity", target_field="entity")(review="r", entity="e")
    assert "given in `entity`" in system(lm.calls[0])
    with pytest.raises(InputError, match="target_field='nope'"):
        build("thor", "review, entity -> polarity", target_field="nope")
