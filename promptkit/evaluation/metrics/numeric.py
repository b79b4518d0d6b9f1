"""Numeric answers (GSM8K): read the final number out of free text and compare values.

The answer is the content of a ``\\boxed{}`` if there is one, else the number after the last
``####`` (GSM8K's marker), else the last number in the text. Thousands commas, currency symbols,
units, ``%`` and a trailing ``.0`` do not matter: ``"$1,234.00 dollars."`` reads as 1234.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from promptkit.datasets.answers import GSM8K_MARKER, extract_boxed

from .base import FieldSpec, Metric, MetricError, as_text, gold, predicted

# A minus sign counts only when it is not a hyphen or a subtraction ("3-5" is 3 and 5, not 3 and -5).
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w)\]}])[-−])?"
    r"(?P<number>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+)(?![\d.]))?"
)


def _value(match: re.Match[str]) -> Fraction:
    number, denominator = match.group("number"), match.group("den")
    value = Fraction(number.replace(",", ""))
    if denominator is not None and "." not in number and int(denominator) != 0:
        value /= int(denominator)
    return -value if match.group("sign") else value


def extract_number(text: str) -> Fraction | None:
    """The final numeric answer in ``text`` (see the module docstring), exactly, or None."""
    boxed = extract_boxed(text)
    if boxed is not None:
        in_box = list(_NUMBER.finditer(boxed))
        if in_box:
            return _value(in_box[-1])
    _, marker, after = text.rpartition(GSM8K_MARKER)
    if marker:
        first = _NUMBER.search(after)
        if first:
            return _value(first)
    matches = list(_NUMBER.finditer(text))
    return _value(matches[-1]) if matches else None


def numbers_equal(left: Fraction, right: Fraction, rel_tol: float) -> bool:
    if left == right:
        return True
    return abs(float(left) - float(right)) <= rel_tol * max(1.0, abs(float(right)))


class NumericMatch(Metric):
    """1 if the prediction's final number equals the gold number (within ``rel_tol``)."""

    name = "numeric_match"
    binary = True

    def __init__(self, field: FieldSpec = "answer", gold_field: FieldSpec = "answer", rel_tol: float = 1e-6) -> None:
        self.field, self.gold_field, self.rel_tol = field, gold_field, rel_tol

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        gold_value = gold(example, self.gold_field)
        gold_values = list(gold_value) if isinstance(gold_value, list | tuple) else [gold_value]
        expected = [number for number in map(_as_fraction, gold_values) if number is not None]
        if not expected:
            raise MetricError(f"the gold answer {str(gold_value)[:80]!r} has no number", hint="is this a numeric task?")
        found = _as_fraction(predicted(prediction, self.field))
        return float(found is not None and any(numbers_equal(found, e, self.rel_tol) for e in expected))


def _as_fraction(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    return extract_number(as_text(value))
