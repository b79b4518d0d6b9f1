"""MATH answer equivalence: LaTeX string normalisation, then sympy when the strings still differ.

The normalisation follows Hendrycks et al.'s ``strip_string`` (the MATH benchmark's own checker) and
extends it: ``\\left``/``\\right``, spaces and ``\\!``, ``\\dfrac``/``\\tfrac`` -> ``\\frac``,
``\\frac12`` -> ``\\frac{1}{2}``, ``^\\circ``, ``\\%``, ``\\text{...}`` (unwrapped, or dropped when it is a
unit after a number), ``x = 5`` -> ``5``, a trailing ``.``, thousands commas, trailing decimal
zeros, ``0.5`` -> ``\\frac{1}{2}``. Tuples and intervals compare element by element; bare comma
lists (several solutions) compare as sets. Without sympy only the string path runs.
"""

from __future__ import annotations

import re
from typing import Any

from promptkit.datasets.answers import extract_boxed

from .base import FieldSpec, Metric, MetricError, as_text, gold, predicted
from .latex_sympy import sympy_equal

_TEXT_COMMANDS = r"\\(?:text|textbf|textit|textnormal|textrm|mathrm|mathbf|mbox|operatorname)"
_UNIT_AFTER_NUMBER = re.compile(r"^(.*[\d}])\s*" + _TEXT_COMMANDS + r"\{\s*[a-zA-Z][a-zA-Z ]*\}(\^\{?\d\}?)?$")
_TEXT_WRAPPER = re.compile(_TEXT_COMMANDS + r"\{([^{}]*)\}")
_SPACING = ("\\!", "\\,", "\\;", "\\:", "\\ ", "\\qquad", "\\quad", "~", "\\displaystyle")
_RELATIONS = {"\\leq": "\\le", "\\geq": "\\ge", "\\neq": "\\ne", "\\dfrac": "\\frac", "\\tfrac": "\\frac"}


def normalize_latex(answer: str) -> str:
    """A canonical string for a final answer (see the module docstring)."""
    text = answer.replace("\n", " ").strip()
    text = re.sub(r"\\[()\[\]]", "", text)  # \( \) \[ \] math delimiters
    text = text.replace("\\$", "").replace("$", "")
    for spacing in _SPACING:
        text = text.replace(spacing, " ")
    text = text.replace("{,}", "")
    for old, new in _RELATIONS.items():
        text = text.replace(old, new)
    text = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])", "", text)
    text = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", text).replace("°", "")
    text = text.replace("\\%", "").replace("%", "")
    unit = _UNIT_AFTER_NUMBER.match(text.strip())
    if unit:
        text = unit.group(1)
    while _TEXT_WRAPPER.search(text):
        text = _TEXT_WRAPPER.sub(r"\1", text)
    text = text.strip().rstrip(".").strip()
    text = _drop_variable_name(text)
    text = re.sub(r"\\sqrt\s*([a-zA-Z0-9])", r"\\sqrt{\1}", text)
    text = _fix_fracs(text)
    text = _remove_spaces(text)
    text = re.sub(r"(^|[{(\[,=+\-])\.(\d)", r"\g<1>0.\2", text)  # .5 -> 0.5
    text = _canonical_number(text)
    return _strip_outer_braces(text)


def _drop_variable_name(text: str) -> str:
    """``x = 5`` -> ``5`` and ``k \\in ...`` kept: only a short left side of a single ``=`` is dropped."""
    if text.count("=") == 1:
        left, right = text.split("=")
        if len(left.strip()) <= 2 or re.fullmatch(r"\s*\\[a-zA-Z]+\s*", left):
            return right.strip()
    return text


def _fix_fracs(text: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{2}`` -> ``\\frac{1}{2}``, ``\\frac{1}2`` -> ``\\frac{1}{2}``."""
    text = re.sub(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\frac\s*([0-9a-zA-Z])\s*\{", r"\\frac{\1}{", text)
    return re.sub(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])", r"\\frac\1{\2}", text)


def _remove_spaces(text: str) -> str:
    """Drop whitespace, except one space ending a command before a letter (``\\cot x`` is not ``\\cotx``)."""

    def replace(match: re.Match[str]) -> str:
        before, after = match.string[: match.start()], match.string[match.end() : match.end() + 1]
        return " " if re.search(r"\\[a-zA-Z]+$", before) and after.isalpha() else ""

    return re.sub(r"\s+", replace, text)


def _canonical_number(text: str) -> str:
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    if re.fullmatch(r"-?\d+\.\d+", text):
        text = text.rstrip("0").rstrip(".")
    if text == "0.5":
        return "\\frac{1}{2}"
    fraction = re.fullmatch(r"(-?)(\d+)/(\d+)", text)
    if fraction:
        return f"{fraction.group(1)}\\frac{{{fraction.group(2)}}}{{{fraction.group(3)}}}"
    return text


def _strip_outer_braces(text: str) -> str:
    while len(text) >= 2 and text[0] == "{" and text[-1] == "}" and _closing_index(text, 0) == len(text) - 1:
        text = text[1:-1]
    return text


def _closing_index(text: str, start: int) -> int:
    pairs = {"(": ")", "[": "]", "{": "}"}
    depth = 0
    for index in range(start, len(text)):
        if text[index] in pairs:
            depth += 1
        elif text[index] in pairs.values():
            depth -= 1
            if depth == 0:
                return index
    return -1


def split_top_level(text: str) -> list[str]:
    """Split on commas outside any brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def final_math_answer(text: str) -> str:
    """A model's final answer: the last ``\\boxed{}``, else the last ``$...$`` span, else the text."""
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    spans = re.findall(r"\$([^$]+)\$", text)
    return spans[-1] if spans else text


def _scalar_equal(left: str, right: str, timeout_s: float) -> bool:
    if left == right:
        return True
    if left.count("=") == 1 and right.count("=") == 1:  # equations: both sides must agree
        (left_lhs, left_rhs), (right_lhs, right_rhs) = left.split("="), right.split("=")
        return _scalar_equal(left_lhs, right_lhs, timeout_s) and _scalar_equal(left_rhs, right_rhs, timeout_s)
    return bool(sympy_equal(left, right, timeout_s))


def answers_equivalent(predicted_answer: str, gold_answer: str, timeout_s: float = 2.0) -> bool:
    """Is ``predicted_answer`` the same mathematical answer as ``gold_answer``?"""
    left, right = normalize_latex(predicted_answer), normalize_latex(gold_answer)
    if left == right:
        return True
    left_parts, right_parts = split_top_level(left), split_top_level(right)
    if len(left_parts) != len(right_parts):
        return False
    if len(left_parts) == 1:
        wrapped = _unwrap_pair(left), _unwrap_pair(right)
        if wrapped[0] is None or wrapped[1] is None:
            return _scalar_equal(left, right, timeout_s)
        # a bracketed tuple or interval: brackets must agree, then the elements in order
        (open_l, inner_l, close_l), (open_r, inner_r, close_r) = wrapped[0], wrapped[1]
        if (open_l, close_l) != (open_r, close_r) or "," not in inner_l:
            return _scalar_equal(left, right, timeout_s)
        pairs = zip(split_top_level(inner_l), split_top_level(inner_r), strict=False)
        return len(split_top_level(inner_l)) == len(split_top_level(inner_r)) and all(
            _scalar_equal(a, b, timeout_s) for a, b in pairs
        )
    # a bare list of solutions ("3, 5, 7"): the same set in any order
    remaining = list(right_parts)
    for part in left_parts:
        match = next((other for other in remaining if _scalar_equal(part, other, timeout_s)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True


def _unwrap_pair(text: str) -> tuple[str, str, str] | None:
    if len(text) >= 2 and text[0] in "([" and text[-1] in ")]" and _closing_index(text, 0) == len(text) - 1:
        return text[0], text[1:-1], text[-1]  # brackets may mix in intervals: (a,b]
    return None


class MathEquiv(Metric):
    """1 if the prediction's final answer (its last ``\\boxed{}``) is equivalent to the gold answer."""

    name = "math_equiv"
    binary = True

    def __init__(self, field: FieldSpec = "answer", gold_field: FieldSpec = "answer", timeout_s: float = 2.0) -> None:
        self.field, self.gold_field, self.timeout_s = field, gold_field, timeout_s

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        gold_text = as_text(gold(example, self.gold_field))
        gold_answer = extract_boxed(gold_text) or gold_text
        if not gold_answer.strip():
            raise MetricError("the gold answer is empty")
        answer = final_math_answer(as_text(predicted(prediction, self.field)))
        return float(answers_equivalent(answer, gold_answer, self.timeout_s))
