"""Sampling and voting, shared by every technique that samples several answers and takes the majority
(self_consistency, ensemble_refinement, complex_cot, federated_sc, verify_and_edit, cok).

Sampling. N samples at ``temperature > 0``: one request with ``n=N`` when the backend takes ``n``
(the LM's own ``supports_n`` flag, else ``"n" in lm.supported_params``; a server that silently
returns fewer choices gets the rest one by one), otherwise N requests, each with its own
``rollout_id`` (0..N-1) — ``rollout_id`` is part of DSPy's cache key, so the N requests are N
distinct cache entries instead of one answer served N times. A sample whose reply does not parse is
dropped from the vote (kept in ``failed_samples``); if every sample fails, the last error is raised.

Voting keys. Samples vote with a *key* of their answer, chosen by the voted field's type
(:func:`normalizer_for`), or the technique's ``normalize=`` callable:

* numbers (``int``, ``float``, ``Decimal``, ``Fraction``): the final number in the answer —
  ``{10}``, ``10.0``, ``ten``, ``"he has 10 (5 * 2) = 10 tennis balls"`` all vote ``"10"``
  (:func:`number_key`);
* choices (``Literal[...]``, ``Enum``, ``bool``): the label the answer names, matched without case
  (:func:`label_key`);
* anything else: the text without a leading "the answer is", markdown, quotes, braces, trailing
  punctuation, case and extra spaces; an answer that is just a number reads as that number
  (:func:`text_key`).

An answer with no key (empty) does not vote. The winner has the most votes; **ties go to the answer
seen first**, so a rerun over the same samples gives the same result. The prediction carries the
fields of the first sample that gave the winning answer — its original spelling and *its* reasoning —
and ``votes`` (key -> count, in first-seen order).
"""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import dspy
from dspy.signatures.signature import Signature

from promptkit.adapter import PARSE_ERRORS
from promptkit.datasets.answers import extract_number
from promptkit.errors import InputError, ParseError
from promptkit.techniques.base import fan_out

Normalizer = Callable[[Any], str | None]

_ANSWER_PREFIX = re.compile(r"^\s*(?:so\s+|therefore,?\s+)?(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*", re.I)
_NUMBER = re.compile(r"^[-+]?\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$|^[-+]?\$?\d+(?:\.\d+)?%?$")
_BOXED = re.compile(r"^\\(?:boxed|fbox)\s*")
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[\s-](?P<unit>{'|'.join(_UNITS[1:10])}))?|(?P<small>{'|'.join(_UNITS)}))\b",
    re.I,
)


def _canonical(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return repr(float(value))


def text_key(value: Any) -> str | None:
    """The answer as comparable text (see the module docstring); None when nothing is left."""
    if value is None:
        return None
    text = _ANSWER_PREFIX.sub("", str(value)).strip()
    text = _BOXED.sub("", text)
    text = " ".join(text.split()).strip("\"'`*{}").rstrip(".!;").strip().lower()
    if _NUMBER.match(text):
        return _canonical(Fraction(text.replace(",", "").replace("$", "").rstrip("%")))
    return text or None


def number_key(value: Any) -> str | None:
    """The final number of the answer (``\\boxed{}`` and GSM8K's ``####`` first), else the last number
    word (``ten``, ``twenty-one``), as ``"10"`` / ``"2.5"``; None when there is no number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal | Fraction):
        return _canonical(Fraction(str(value)))
    number = extract_number(str(value))
    if number is not None:
        return _canonical(number)
    words = list(_WORD_NUMBER.finditer(str(value)))
    if not words:
        return None
    last = words[-1]
    if last.group("small"):
        return str(_UNITS.index(last.group("small").lower()))
    unit = last.group("unit")
    return str(10 * (_TENS.index(last.group("tens").lower()) + 2) + (_UNITS.index(unit.lower()) if unit else 0))


def label_key(labels: Sequence[Any]) -> Normalizer:
    """A key for answers that must be one of ``labels``: the label named (case-insensitive, alone or
    after "the answer is"); text that names no label keeps its :func:`text_key` (it still votes)."""
    by_text = {
        text_key(label.value if isinstance(label, enum.Enum) else label): str(
            label.value if isinstance(label, enum.Enum) else label
        )
        for label in labels
    }
    by_text.update({text_key(label.name): str(label.value) for label in labels if isinstance(label, enum.Enum)})

    def key(value: Any) -> str | None:
        if isinstance(value, enum.Enum):
            value = value.value
        text = text_key(value)
        return by_text.get(text, text)

    return key


def normalizer_for(annotation: Any) -> Normalizer:
    """The voting key for answers of type ``annotation`` (a signature's output field type)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return label_key(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):  # Optional[int] -> int
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return normalizer_for(inner[0]) if len(inner) == 1 else text_key
    if annotation is bool:
        return label_key([True, False])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return label_key(list(annotation))
    if isinstance(annotation, type) and issubclass(annotation, int | float | Decimal | Fraction):
        return number_key
    return text_key


NAMED: dict[str, Normalizer] = {"number": number_key, "text": text_key}
"""Keys by name, for ``normalize=`` given as text (``promptkit ask ... -o normalize=number``)."""


def voting_normalizer(
    sig: type[Signature], field: str, normalize: Normalizer | str | None, technique: str
) -> Normalizer:
    """``normalize`` when given (a callable or a name in :data:`NAMED`), else the key for ``field``'s type."""
    if normalize is None:
        return normalizer_for(sig.output_fields[field].annotation)
    if isinstance(normalize, str) and normalize in NAMED:
        return NAMED[normalize]
    if not callable(normalize):
        raise InputError(
            f"technique {technique!r}: option normalize={normalize!r:.60} must be a callable answer -> key "
            f"or one of {', '.join(NAMED)}",
            hint="pass e.g. normalize='number' for numeric answers written as text, or leave it out",
        )
    return normalize


def supports_n(lm: Any) -> bool:
    """Whether ``lm`` returns several samples for one request with ``n`` (else we send N requests)."""
    flag = getattr(lm, "supports_n", None)
    if isinstance(flag, bool):
        return flag
    try:
        return "n" in lm.supported_params
    except Exception:  # capability lookup can fail (unknown provider): fall back to distinct requests
        return False


def sample(
    predict: dspy.Predict, inputs: dict[str, Any], n: int, temperature: float, num_threads: int = 1
) -> tuple[list[dspy.Prediction], list[str]]:
    """``n`` samples of ``predict`` at ``temperature``: (parsed samples, errors of the failed ones)."""
    lm = getattr(predict, "lm", None) or dspy.settings.lm
    samples: list[dspy.Prediction] = []
    if n > 1 and supports_n(lm):
        try:
            pred = predict(**inputs, config={"n": n, "temperature": temperature})
        except PARSE_ERRORS:  # one choice that does not parse fails them all: ask one by one instead
            pred = None
        samples = [pred.completions[i] for i in range(len(pred.completions))][:n] if pred is not None else []
        if len(samples) == n:
            return samples, []
        # The server ignored n (llama.cpp's OpenAI-compatible server answers with one choice):
        # the missing samples are requested one by one.
    more, failures = _distinct_samples(predict, inputs, range(len(samples), n), temperature, num_threads)
    samples += more
    if not samples:
        raise ParseError(f"none of the {n} samples could be parsed", raw="\n".join(failures))
    return samples, failures


def _distinct_samples(
    predict: dspy.Predict, inputs: dict[str, Any], rollout_ids: range, temperature: float, num_threads: int
) -> tuple[list[dspy.Prediction], list[str]]:
    def one(rollout_id: int) -> dspy.Prediction | str:
        try:
            return predict(**inputs, config={"temperature": temperature, "rollout_id": rollout_id})
        except PARSE_ERRORS as exc:
            return f"sample {rollout_id}: {type(exc).__name__}: {str(exc)[:300]}"

    results = fan_out(one, rollout_ids, num_threads)
    return [r for r in results if isinstance(r, dspy.Prediction)], [r for r in results if isinstance(r, str)]


def vote(samples: Sequence[dspy.Prediction], field: str, normalize: Normalizer) -> tuple[int, dict[str, int]]:
    """(index of the first sample that gave the winning answer, votes). Ties: the answer seen first wins."""
    votes: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for index, prediction in enumerate(samples):
        key = normalize(prediction.get(field))
        if key is None:
            continue
        votes[key] = votes.get(key, 0) + 1
        first_seen.setdefault(key, index)
    if not votes:
        return 0, {}
    # max() keeps the first maximal key in insertion (= first-seen) order: the documented tie rule.
    winner = max(votes, key=lambda k: votes[k])
    return first_seen[winner], votes


def consensus(
    predict: dspy.Predict,
    inputs: dict[str, Any],
    n: int,
    temperature: float,
    num_threads: int,
    field: str,
    normalize: Normalizer,
) -> tuple[dspy.Prediction, dict[str, Any]]:
    """Sample and vote: (the winning sample, what the prediction reports: ``votes``, ``share`` — the
    winner's votes over the ``n`` requested samples, since an unparsed or empty sample is not
    agreement —, ``rationale`` — the winning sample's reasoning —, ``samples``, ``failed_samples``)."""
    samples, failures = sample(predict, inputs, n, temperature, num_threads)
    winner, votes = vote(samples, field, normalize)
    best = samples[winner]
    share = max(votes.values(), default=0) / n
    rationale = str(best.get("reasoning") or "")
    report = {"votes": votes, "share": share, "rationale": rationale, "samples": samples, "failed_samples": failures}
    return best, report


__all__ = [
    "NAMED",
    "Normalizer",
    "consensus",
    "label_key",
    "normalizer_for",
    "number_key",
    "sample",
    "supports_n",
    "text_key",
    "vote",
    "voting_normalizer",
]
