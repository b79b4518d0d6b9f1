"""Numeric answers (GSM8K): read the final number out of free text and compare values.

The number is read by :func:`promptkit.datasets.answers.extract_number` (the one copy, shared with
the dataset readers and the techniques' voting): the content of a ``\\boxed{}`` if there is one,
else the number after the last ``####``, else the last number in the text.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from promptkit.datasets.answers import extract_number

from .base import FieldSpec, Metric, MetricError, as_text, gold, predicted


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
