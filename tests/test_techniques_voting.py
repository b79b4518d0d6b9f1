"""Answer normalisation for voting: the keys (numbers, labels, text), the key chosen by the voted
field's type, and every voting technique on FakeLM voting over keys while returning the winning
answer as a sample spelled it, with that sample's reasoning and the vote table."""

from __future__ import annotations

import enum
from typing import Any, Literal, Optional

import pytest

from promptkit.errors import InputError
from promptkit.techniques import build
from promptkit.techniques.voting import label_key, normalizer_for, number_key, text_key

# The five sampled answers: three say 10, spelled three ways.
RAW = ["{10}", "2", "he has 10 (5 * 2) = 10 tennis balls now", "10.0", "5"]
VOTES = {"10": 3, "2": 1, "5": 1}


def samples() -> list[dict[str, str]]:
    return [{"reasoning": f"path {i}", "answer": answer} for i, answer in enumerate(RAW)]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("{10}", "10"),
        ("10.0", "10"),
        ("ten", "10"),
        ("he has 10 (5 * 2) = 10 tennis balls now", "10"),
        ("\\boxed{1,234}", "1234"),
        ("so #### 72 clips", "72"),
        ("twenty-one apples", "21"),
        (7, "7"),
        (2.5, "2.5"),
        ("-3", "-3"),
        ("1/2", "0.5"),
        ("no number here", None),
        (None, None),
        (True, None),
    ],
)
def test_number_key_is_the_final_number(raw: Any, key: str | None) -> None:
    assert number_key(raw) == key


def test_text_key_reads_a_bare_number_and_strips_decoration() -> None:
    assert text_key("{10}") == text_key("10.0") == text_key("The answer is 10.") == "10"
    assert text_key("**Paris**") == text_key(" paris ") == "paris"
    assert text_key("he has 10 balls") == "he has 10 balls"  # free text stays text


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_labels_match_without_case_and_keep_unknown_text() -> None:
    key = label_key(["Yes", "No"])
    assert key("yes.") == key("The answer is YES") == "Yes"
    assert key("maybe") == "maybe"
    colour = label_key(list(Colour))
    assert colour(Colour.RED) == colour("RED") == colour("red") == "red"


@pytest.mark.parametrize(
    ("annotation", "probe", "key"),
    [
        (int, "10 balls", "10"),
        (float, 10.0, "10"),
        (Optional[int], "x = 4", "4"),  # noqa: UP045
        (str, "Ten", "ten"),
        (Literal["A", "B"], "b", "B"),
        (bool, "TRUE", "True"),
        (Colour, "Blue", "blue"),
        (list[str], "X", "x"),
    ],
)
def test_the_field_type_decides_the_key(annotation: Any, probe: Any, key: str) -> None:
    assert normalizer_for(annotation)(probe) == key


def assert_voted(prediction: Any, reasoning: str = "reasoning") -> None:
    assert prediction.votes == VOTES
    # The answer as the first sample that gave it spelled it, and that sample's reasoning.
    assert prediction.answer == "{10}" and prediction.get(reasoning) == "path 0"


def test_self_consistency_votes_over_numbers(fake: Any) -> None:
    fake(samples())
    assert_voted(build("self_consistency", n=5, normalize="number")(question="How many balls?"))


def test_self_consistency_default_key_for_text_and_for_numeric_fields(fake: Any) -> None:
    fake(samples())
    text = build("self_consistency", n=5)(question="q")
    assert text.votes == {"10": 2, "2": 1, "he has 10 (5 * 2) = 10 tennis balls now": 1, "5": 1}
    fake([{"reasoning": f"r{i}", "answer": a} for i, a in enumerate(["7", "7.0", "8", "7.00"])])
    typed = build("self_consistency", "question -> answer: float", n=4)(question="q")
    assert typed.votes == {"7": 3, "8": 1} and typed.reasoning == "r0"


def test_the_reasoning_belongs_to_the_winning_answer(fake: Any) -> None:
    answers = ["2", "10", "10"]
    fake([{"reasoning": f"the answer is {a} (path {i})", "answer": a} for i, a in enumerate(answers)])
    prediction = build("self_consistency", n=3)(question="q")
    assert prediction.answer == "10" and prediction.reasoning == "the answer is 10 (path 1)"


def test_a_custom_normalize_callable_wins_over_the_type(fake: Any) -> None:
    fake(samples())
    prediction = build("self_consistency", "question -> answer: str", n=5, normalize=lambda a: str(a)[:1])(question="q")
    assert prediction.votes == {"{": 1, "2": 1, "h": 1, "1": 1, "5": 1}


def test_normalize_must_be_callable_or_a_known_name() -> None:
    with pytest.raises(InputError, match="normalize='digits'"):
        build("self_consistency", normalize="digits")


def test_ensemble_refinement_votes_over_numbers(fake: Any) -> None:
    fake([{"reasoning": "first", "answer": "3"}, *samples()])
    assert_voted(build("ensemble_refinement", n=1, m=5, normalize="number")(question="q"))


def test_complex_cot_votes_over_numbers(fake: Any) -> None:
    fake(samples())
    assert_voted(build("complex_cot", n=5, top_k=5, normalize="number")(question="q"))


def test_federated_sc_votes_over_numbers(fake: Any) -> None:
    fake(samples())
    prediction = build("federated_sc", pool=["p1?", "p2?", "p3?", "p4?"], normalize="number")(question="q?")
    assert_voted(prediction)


@pytest.mark.parametrize("technique_id", ["verify_and_edit", "cok"])
def test_gated_voters_vote_over_numbers(technique_id: str, fake: Any) -> None:
    lm = fake([*samples(), {"domains": ["arithmetic"]}])
    prediction = build(technique_id, n=5, normalize="number")(question="q")
    assert_voted(prediction, "rationale")
    assert prediction.share == 0.6  # 3 of 5 agree: above 0.5, no correction
    assert len(lm.calls) == (6 if technique_id == "cok" else 5)
