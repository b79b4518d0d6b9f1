"""numeric_match (GSM8K) and math_equiv (MATH): normalisers, sympy fallback, and 100% on the gold answers."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from typing import Any

import dspy
import pytest

from promptkit.datasets import load
from promptkit.evaluation.metrics import answers_equivalent, extract_number, get, normalize_latex
from promptkit.evaluation.metrics.latex_sympy import LatexParseError, parse_latex_answer, sympy_equal
from tests.shared_data import shared


def score(metric_name: str, gold: Any, answer: Any) -> Any:
    return get(metric_name).score(dspy.Example(answer=gold), dspy.Prediction(answer=answer))


# --- numeric_match ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.00 dollars.", Fraction(1234)),
        ("The answer is 18.", Fraction(18)),
        ("It costs 50%", Fraction(50)),
        ("48/2 = 24 apples", Fraction(24)),
        ("so 3/4 of them", Fraction(3, 4)),
        ("x = -5", Fraction(-5)),
        ("from 3-5 days", Fraction(5)),  # a range's hyphen is not a minus sign
        ("−7 degrees", Fraction(-7)),
        ("#### 1,000\nchecked in 5 steps", Fraction(1000)),  # GSM8K's marker wins over the last number
        ("first 3, then \\boxed{12} of 20", Fraction(12)),  # a box wins too
        ("about .5 litres", Fraction(1, 2)),
        ("no digits here", None),
    ],
)
def test_extract_number(text: str, expected: Fraction | None) -> None:
    assert extract_number(text) == expected


def test_numeric_match_values() -> None:
    assert score("numeric_match", "18", "So she makes $18.0 every day.").value == 1.0
    assert score("numeric_match", "18", "So she makes $17.99 every day.").value == 0.0
    assert score("numeric_match", 1000, "1,000").value == 1.0
    assert score("numeric_match", "0.5", "1/2").value == 1.0
    assert score("numeric_match", ["5", "7"], "7").value == 1.0
    assert score("numeric_match", "5", "I don't know").value == 0.0  # a wrong answer, not a metric error
    unusable_gold = score("numeric_match", "blue", "5")
    assert unusable_gold.status == "error" and "no number" in (unusable_gold.error or "")


def test_gsm8k_gold_answers_all_score_through_numeric_match() -> None:
    """Every shipped GSM8K row: the extracted gold vs the official solution text and reformatted variants."""
    path = shared("gsm8k/train.jsonl")
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    data = load(path)
    metric = get("numeric_match")
    failures = []
    for example, row in zip(data, raw, strict=True):
        value = int(example.answer)
        variants = [
            row["answer"],  # the official solution, "#### 1,234" included
            f"{example.rationale}\nThe answer is ${value:,}.",
            f"So the total is {example.answer}.0 units",
            f"{example.rationale} Final answer: \\boxed{{{example.answer}}}",
        ]
        for text in variants:
            result = metric.score(example, dspy.Prediction(answer=text))
            if result.value != 1.0:
                failures.append((example.question[:60], text[-60:], result))
    assert len(data) >= 500 and failures == []


# --- math_equiv ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("0.5", "\\frac12"),
        ("\\dfrac{1}{2}", "\\tfrac{1}{2}"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
        ("90^\\circ", "90"),
        ("90^{\\circ}", "90"),
        ("10\\text{ inches}", "10"),
        ("x = 5", "5"),
        ("5.", "5"),
        ("\\text{Evelyn}", "Evelyn"),
        ("1,000", "1000"),
        ("10{,}000", "10000"),
        ("2.50", "2.5"),
        ("\\$18.90", "18.9"),
        ("50\\%", "50"),
        ("\\!\\sqrt3", "\\sqrt{3}"),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"),
    ],
)
def test_math_equiv_string_normalisation(left: str, right: str) -> None:
    assert normalize_latex(left) == normalize_latex(right)
    assert answers_equivalent(left, right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("\\sqrt{2}/2", "\\frac{1}{\\sqrt{2}}"),
        ("6 - 5i", "-5i + 6"),
        ("x^5 - x^4 + x^3 - x^2 + x - 1", "-1 + x - x^2 + x^3 - x^4 + x^5"),
        ("\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt{3}"),
        ("2\\sqrt{2}", "\\sqrt{8}"),
        ("0.25", "\\frac{1}{4}"),
        ("(1, \\frac{1}{2})", "(1, 0.5)"),
        ("y = 2x + 3", "y = 3 + 2x"),
        ("\\sin^2 x + \\cos^2 x", "1"),
        ("3, 5, 7", "7,3,\\sqrt{25}"),  # several solutions: the same set in any order
    ],
)
def test_math_equiv_needs_sympy_for_these(left: str, right: str) -> None:
    assert normalize_latex(left) != normalize_latex(right)  # strings alone would say no
    assert answers_equivalent(left, right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("0.5", "0.25"),
        ("(1,2)", "(2,1)"),  # tuples are ordered
        ("(1,2]", "(1,2)"),  # intervals: brackets matter
        ("3,5", "3,5,7"),
        ("\\frac{1}{2}", "\\frac{1}{3}"),
        ("x+1", "x+2"),
        ("2^{100000000}", "3"),  # refused by the exponent cap, not hanging
        ("\\text{Evelyn}", "\\text{Emily}"),
        ("\\text{Evelyn}", "\\text{Evelny}"),  # words are not products of variables
    ],
)
def test_math_equiv_rejects(left: str, right: str) -> None:
    assert not answers_equivalent(left, right)


def test_math_equiv_reads_the_last_box_of_a_worked_prediction() -> None:
    solution = "First \\boxed{0} is wrong; the answer is $\\boxed{\\dfrac{2}{4}}$."
    assert score("math_equiv", "\\frac{1}{2}", solution).value == 1.0
    assert score("math_equiv", "\\frac{1}{2}", "We get $x = 0.5$ in the end, so $\\frac12$").value == 1.0
    assert score("math_equiv", "\\frac{1}{2}", "\\frac{1}{3}").value == 0.0


def test_latex_parser_is_safe_and_bounded() -> None:
    with pytest.raises(LatexParseError):
        parse_latex_answer("__import__('os').system('true')")
    with pytest.raises(LatexParseError):
        parse_latex_answer("\\unknowncommand{1}")
    assert sympy_equal("\\frac{1}{2}", "\\text{half}") is None  # undecidable -> None, strings decide
    started = time.monotonic()
    assert sympy_equal("(x+1)^{999}", "(1+x)^{999}", timeout_s=2.0) in (True, None)
    assert time.monotonic() - started < 3


def test_math500_gold_answers_all_score_through_math_equiv() -> None:
    """Every MATH-500 row: the boxed answer extracted by the reader vs the 'answer' field, and vs the solution."""
    path = shared("math/math500.jsonl")
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    data = load(path)
    metric = get("math_equiv")
    failures = []
    for example, row in zip(data, raw, strict=True):
        against_field = metric.score(dspy.Example(answer=row["answer"]), dspy.Prediction(answer=example.answer))
        against_solution = metric.score(example, dspy.Prediction(answer=row["solution"]))
        if against_field.value != 1.0 or against_solution.value != 1.0:
            failures.append((row["unique_id"], row["answer"], against_field, against_solution))
    assert len(data) == 500 and failures == []
