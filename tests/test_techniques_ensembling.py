"""Self-consistency and ensemble refinement on FakeLM: sampling (n or distinct rollouts), no cache
collisions, normalization, majority vote with the documented tie rule, the vote distribution."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from promptkit.adapter import TemplateAdapter
from promptkit.errors import InputError, ParseError
from promptkit.lm import FakeLM
from promptkit.techniques import build
from promptkit.techniques.voting import supports_n, text_key, vote


def cot(answer: str, reasoning: str = "because") -> dict[str, str]:
    return {"reasoning": reasoning, "answer": answer}


def test_majority_vote_over_n_distinct_samples(fake: Any) -> None:
    lm = fake([cot("42", "a"), cot("41", "b"), cot("The answer is 42.", "c"), cot("42.0", "d"), cot("41", "e")])
    prediction = build("self_consistency", n=5, temperature=0.9)(question="6 * 7?")
    assert len(lm.calls) == 5
    assert all(call.config["temperature"] == 0.9 and call.config["n"] == 1 for call in lm.calls)
    assert prediction.votes == {"42": 3, "41": 2}
    assert prediction.answer == "42" and prediction.reasoning == "a"  # the first sample with the winning answer
    assert [s.answer for s in prediction.samples] == ["42", "41", "The answer is 42.", "42.0", "41"]
    assert "Let's think step by step." in lm.calls[0].messages[0]["content"]


def test_samples_do_not_collide_in_the_cache() -> None:
    """Same prompt N times: with distinct rollout_ids every sample reaches the LM even with caching on."""
    lm = FakeLM([cot("1"), cot("2"), cot("2")], cache=True)
    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        first = build("self_consistency", n=3)(question="same question")
        assert len(lm.calls) == 3
        again = build("self_consistency", n=3)(question="same question")
    assert len(lm.calls) == 3  # the rerun is served from the cache: identical samples, no extra calls
    assert first.votes == again.votes == {"1": 1, "2": 2}


def test_ties_go_to_the_answer_seen_first(fake: Any) -> None:
    fake([cot("B"), cot("A"), cot("A"), cot("B")])
    prediction = build("self_consistency", n=4)(question="q")
    assert prediction.votes == {"b": 2, "a": 2}
    assert prediction.answer == "B"


def test_tie_rule_is_independent_of_answer_text() -> None:
    samples = [dspy.Prediction(answer=a) for a in ["zebra", "apple", "apple", "zebra", "mango"]]
    winner, votes = vote(samples, "answer", text_key)
    assert winner == 0 and votes == {"zebra": 2, "apple": 2, "mango": 1}


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The answer is 42.", "42"),
        ("  Paris ", "paris"),
        ("$1,000", "1000"),
        ("3.50", "3.5"),
        ("**Yes**", "yes"),
        ("", None),
        (None, None),
        ("Answer: two words.", "two words"),
    ],
)
def test_text_key(raw: Any, normalized: str | None) -> None:
    assert text_key(raw) == normalized


def test_one_request_with_n_when_the_backend_supports_it(fake: Any) -> None:
    lm = fake([cot("7"), cot("7"), cot("8")])
    lm.supports_n = True
    assert supports_n(lm)
    prediction = build("self_consistency", n=3)(question="q")
    # DSPy fans one n=3 request out to the engine; each engine call carries n=3.
    assert [call.config["n"] for call in lm.calls] == [3, 3, 3]
    assert prediction.votes == {"7": 2, "8": 1} and len(prediction.samples) == 3


def test_backends_without_n_get_distinct_requests(fake: Any) -> None:
    lm = fake([cot("7")] * 3)
    assert not supports_n(lm)
    build("self_consistency", n=3)(question="q")
    assert [call.config["n"] for call in lm.calls] == [1, 1, 1]


def test_an_unparseable_sample_is_dropped_from_the_vote(fake: Any) -> None:
    fake([cot("5"), "no fields at all", cot("5")])
    prediction = build("self_consistency", n=3)(question="q")
    assert prediction.votes == {"5": 2}
    assert len(prediction.failed_samples) == 1 and "sample 1" in prediction.failed_samples[0]


def test_all_samples_unparseable_is_a_parse_error(fake: Any) -> None:
    fake(["garbage", "more garbage"])
    with pytest.raises(ParseError, match="none of the 2 samples"):
        build("self_consistency", n=2)(question="q")


def test_votes_on_the_chosen_field_with_a_custom_normalizer(fake: Any) -> None:
    answers = [
        {"reasoning": "r", "label": "POS", "score": "1"},
        {"reasoning": "r", "label": "neg", "score": "2"},
        {"reasoning": "r", "label": "pos!", "score": "3"},
    ]
    fake(answers)
    prediction = build(
        "self_consistency",
        "text -> label, score",
        n=3,
        field="label",
        normalize=lambda v: str(v).strip("!").lower(),
    )(text="great")
    assert prediction.votes == {"pos": 2, "neg": 1} and prediction.label == "POS"


@pytest.mark.parametrize(
    ("options", "message"),
    [({"n": 0}, "n=0"), ({"temperature": 0}, "temperature=0"), ({"field": "nope"}, "field='nope'")],
)
def test_bad_options_are_typed_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build("self_consistency", **options)


def test_ensemble_refinement_conditions_refinements_on_all_attempts(fake: Any) -> None:
    attempts = [cot("10", "path one"), cot("12", "path two")]
    refinements = [cot("12", "refined a"), cot("12", "refined b"), cot("10", "refined c")]
    lm = fake(attempts + refinements)
    prediction = build("ensemble_refinement", n=2, m=3)(question="q")
    assert len(lm.calls) == 5
    for call in lm.calls[2:]:
        text = call.last_user_message
        assert "Attempt #1" in text and "path one" in text and "Attempt #2" in text and "path two" in text
    assert all("attempts" not in call.inputs for call in lm.calls[:2])
    assert prediction.votes == {"12": 2, "10": 1}
    assert prediction.answer == "12" and prediction.reasoning == "refined a"
    assert [a.answer for a in prediction.attempts] == ["10", "12"]
    assert "2 earlier attempts" in lm.calls[2].messages[0]["content"]
