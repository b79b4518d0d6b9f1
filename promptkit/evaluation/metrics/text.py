"""Answer-text metrics: exact match, token F1, contains, passage match (SQuAD-style normalisation)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from typing import Any

from .base import FieldSpec, Metric, MetricError, as_text, gold_texts, predicted

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: Unicode NFD, lowercase, drop punctuation and articles, collapse whitespace.

    Unicode punctuation (curly quotes, dashes) is dropped too, so typographic variants compare equal.
    """
    text = unicodedata.normalize("NFD", text).lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCTUATION and not unicodedata.category(ch).startswith("P"))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold_answer: str) -> float:
    """Token-overlap F1 after normalisation (both empty counts as a match, as in SQuAD v2)."""
    predicted_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold_answer).split()
    if not predicted_tokens or not gold_tokens:
        return float(predicted_tokens == gold_tokens)
    common = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def contains_text(haystack: str, needle: str) -> bool:
    """Does the normalised ``needle`` occur in the normalised ``haystack`` as whole tokens?"""
    wanted = normalize_answer(needle)
    if not wanted:
        return False
    return f" {wanted} " in f" {normalize_answer(haystack)} "


class ExactMatch(Metric):
    """1 if the prediction equals any gold answer after normalisation."""

    name = "exact_match"
    binary = True

    def __init__(self, field: FieldSpec = "answer", gold_field: FieldSpec = "answer") -> None:
        self.field, self.gold_field = field, gold_field

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        answer = normalize_answer(as_text(predicted(prediction, self.field)))
        return float(any(answer == normalize_answer(g) for g in gold_texts(example, self.gold_field)))


class F1(Metric):
    """Best token F1 against the gold answers (SQuAD); graded, so ``threshold`` applies while tracing."""

    name = "f1"

    def __init__(
        self, field: FieldSpec = "answer", gold_field: FieldSpec = "answer", threshold: float | None = None
    ) -> None:
        self.field, self.gold_field, self.threshold = field, gold_field, threshold

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        answer = as_text(predicted(prediction, self.field))
        return max(token_f1(answer, g) for g in gold_texts(example, self.gold_field))


class Contains(Metric):
    """1 if the prediction contains any gold answer (normalised, whole tokens; or raw substring)."""

    name = "contains"
    binary = True

    def __init__(self, field: FieldSpec = "answer", gold_field: FieldSpec = "answer", normalize: bool = True) -> None:
        self.field, self.gold_field, self.normalize = field, gold_field, normalize

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        text = as_text(predicted(prediction, self.field))
        golds = gold_texts(example, self.gold_field)
        if self.normalize:
            return float(any(contains_text(text, g) for g in golds))
        return float(any(g and g in text for g in golds))


def passage_texts(value: Any) -> list[str]:
    """Passages as text: strings, dicts or objects with ``text`` / ``long_text`` / ``passage`` / ``content``."""
    items = value if isinstance(value, list | tuple) else [value]
    texts: list[str] = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
            continue
        for key in ("long_text", "text", "passage", "content"):
            text = item.get(key) if isinstance(item, dict) else getattr(item, key, None)
            if isinstance(text, str):
                texts.append(text)
                break
        else:
            raise MetricError(f"cannot read the text of a passage of type {type(item).__name__}")
    return texts


class PassageMatch(Metric):
    """1 if any retrieved passage contains any gold answer (``dspy.evaluate.answer_passage_match``)."""

    name = "passage_match"
    binary = True

    def __init__(self, field: FieldSpec = ("context", "passages"), gold_field: FieldSpec = "answer") -> None:
        self.field, self.gold_field = field, gold_field

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        passages = passage_texts(predicted(prediction, self.field))
        golds = gold_texts(example, self.gold_field)
        return float(any(contains_text(passage, g) for passage in passages for g in golds))
