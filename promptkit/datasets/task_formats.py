"""Readers for the official GSM8K, MATH and HotPotQA record layouts.

Each converter takes one raw record and returns the example's fields: ``question`` (the input) and
``answer`` (the final answer only), plus the format's useful extras. A record that does not fit
raises :class:`RowProblem` saying which field is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .answers import extract_boxed, extract_gsm8k_answer, gsm8k_rationale
from .core import RowProblem

Converter = Callable[[dict[str, Any]], dict[str, Any]]


def _text_field(record: Mapping[str, Any], key: str) -> str:
    if key not in record or record[key] is None:
        raise RowProblem(f"missing field {key!r}; the row has {sorted(record)}")
    value = record[key]
    if not isinstance(value, str):
        raise RowProblem(f"field {key!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RowProblem(f"field {key!r} is empty")
    return value


def convert_gsm8k(record: dict[str, Any]) -> dict[str, Any]:
    """GSM8K: ``answer`` is a worked solution ending in ``#### <number>``; keep it as ``rationale``."""
    question = _text_field(record, "question")
    solution = _text_field(record, "answer")
    final = extract_gsm8k_answer(solution)
    if final is None:
        raise RowProblem("field 'answer' has no '#### <final answer>' line (GSM8K format)")
    return {**record, "question": question, "answer": final, "rationale": gsm8k_rationale(solution)}


def convert_math(record: dict[str, Any]) -> dict[str, Any]:
    """MATH / MATH-500: the answer is the last ``\\boxed{...}`` of ``solution``, else the ``answer`` field."""
    question_key = "problem" if "problem" in record else "question"
    question = _text_field(record, question_key)
    solution = record.get("solution")
    if solution is not None and not isinstance(solution, str):
        raise RowProblem(f"field 'solution' must be a string, got {type(solution).__name__}")
    answer = extract_boxed(solution) if solution else None
    if answer is None:
        given = record.get("answer")
        if isinstance(given, bool) or not isinstance(given, str | int | float):
            if given is None:
                raise RowProblem("no \\boxed{...} answer in 'solution' and no 'answer' field (MATH format)")
            raise RowProblem(f"field 'answer' must be a string or number, got {type(given).__name__}")
        answer = str(given)
    fields = {key: value for key, value in record.items() if key != "problem"}
    # \fbox{$...$} wraps the answer in math delimiters; the answer itself is what is inside
    return {"question": question, **fields, "answer": answer.strip().strip("$").strip()}


def convert_hotpotqa(record: dict[str, Any]) -> dict[str, Any]:
    """HotPotQA, official JSON (``_id``, pair lists) or the Hugging Face JSONL layout (column dicts).

    ``context`` becomes a list of ``"Title | text"`` passages, ``supporting_facts`` a list of
    ``[title, sentence_index]`` pairs and ``gold_titles`` the sorted titles they cite.
    """
    fields = {key: value for key, value in record.items() if key != "_id"}
    fields["question"] = _text_field(record, "question")
    fields["answer"] = _text_field(record, "answer")
    if "_id" in record:
        fields["id"] = record["_id"]
    if record.get("supporting_facts") is not None:
        facts = _supporting_facts(record["supporting_facts"])
        fields["supporting_facts"] = facts
        fields["gold_titles"] = sorted({title for title, _ in facts})
    if record.get("context") is not None:
        fields["context"] = [
            f"{title} | {''.join(sentences).strip()}" for title, sentences in _context(record["context"])
        ]
    return fields


def _supporting_facts(value: Any) -> list[list[Any]]:
    if isinstance(value, dict):  # {"title": [...], "sent_id": [...]}
        titles, indices = value.get("title"), value.get("sent_id")
        if not isinstance(titles, list) or not isinstance(indices, list) or len(titles) != len(indices):
            raise RowProblem("field 'supporting_facts' must have equal-length 'title' and 'sent_id' lists")
        pairs = list(zip(titles, indices, strict=True))
    elif isinstance(value, list):  # [[title, sentence_index], ...]
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
            raise RowProblem("field 'supporting_facts' must be a list of [title, sentence_index] pairs")
        pairs = [(pair[0], pair[1]) for pair in value]
    else:
        raise RowProblem(f"field 'supporting_facts' must be a list or an object, got {type(value).__name__}")
    for title, index in pairs:
        if not isinstance(title, str) or isinstance(index, bool) or not isinstance(index, int):
            raise RowProblem("field 'supporting_facts' needs string titles and integer sentence indices")
    return [[title, index] for title, index in pairs]


def _context(value: Any) -> list[tuple[str, list[str]]]:
    if isinstance(value, dict):  # {"title": [...], "sentences": [[...], ...]}
        titles, sentences = value.get("title"), value.get("sentences")
        if not isinstance(titles, list) or not isinstance(sentences, list) or len(titles) != len(sentences):
            raise RowProblem("field 'context' must have equal-length 'title' and 'sentences' lists")
        pairs = list(zip(titles, sentences, strict=True))
    elif isinstance(value, list):  # [[title, [sentences]], ...]
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
            raise RowProblem("field 'context' must be a list of [title, [sentences]] pairs")
        pairs = [(pair[0], pair[1]) for pair in value]
    else:
        raise RowProblem(f"field 'context' must be a list or an object, got {type(value).__name__}")
    for title, sentences in pairs:
        if not isinstance(title, str) or not isinstance(sentences, list):
            raise RowProblem("field 'context' needs a string title and a list of sentences per passage")
        if not all(isinstance(sentence, str) for sentence in sentences):
            raise RowProblem(f"field 'context': passage {title!r} has a sentence that is not a string")
    return pairs


CONVERTERS: dict[str, Converter] = {"gsm8k": convert_gsm8k, "math": convert_math, "hotpotqa": convert_hotpotqa}


def detect_task_format(record: Mapping[str, Any]) -> str | None:
    """Recognise an official layout from a record's keys (``None``: plain records)."""
    keys = set(record)
    if "problem" in keys and keys & {"solution", "answer"}:
        return "math"
    if {"question", "answer", "supporting_facts", "context"} <= keys:
        return "hotpotqa"
    answer = record.get("answer")
    if "question" in keys and isinstance(answer, str) and "####" in answer:
        return "gsm8k"
    return None
