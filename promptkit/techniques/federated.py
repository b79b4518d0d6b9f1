"""Federated self-consistency, Fed-SP-SC (Liu et al., 2023, arXiv 2304.13911): vote over paraphrases.

Self-consistency over synonymous questions instead of over samples of one question.

Paraphrases. The question field is option ``question_field``, else the input named ``question``
when it is a ``str``, else the first ``str`` input (none: InputError). Up to ``n`` (default 5)
synonymous questions come from option ``pool`` — a callable ``question -> list[str]`` (questions
other users asked), a mapping ``question -> list[str]`` (looked up by the exact question text) or a
list of strings used for every question — else from one LM call (``federated_sc_paraphrase.j2``)
that writes a list of ``n``. Either way the list is cleaned: items stripped, empty ones, duplicates
(case- and space-insensitive) and copies of the question dropped, the first ``n`` kept. Fewer than
``n`` is fine (no second call); when the pool has none for a question the LM writes them; when the
paraphrasing reply does not parse, only the original question is answered (the error is recorded).

Answers. Each question is answered with zero-shot CoT (the ``cot_zeroshot`` template, like
``cot_zeroshot``): the original question first when ``include_original`` (default True; so a tie goes
to its answer), then the paraphrases, the other inputs unchanged, at ``temperature``, on ``num_threads``
threads. A reply that does not parse is dropped from the vote and recorded in ``failed_samples``; if
all fail, ParseError. The vote is :func:`voting.vote` (answers compared by their voting key; ties: first seen).
The prediction carries the winner's fields, ``votes``, ``paraphrases`` (the cleaned list),
``questions`` (what was asked, in order), ``samples`` (the parsed answers) and ``failed_samples``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dspy

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import InputError, ParseError
from promptkit.techniques.base import COT, SignatureLike, Step, TechniqueModule, fan_out
from promptkit.techniques.ensembling import voted
from promptkit.techniques.options import Sampling

Pool = Callable[[str], Sequence[str]] | Mapping[str, Sequence[str]] | Sequence[str]


def _strings(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def clean(candidates: Sequence[str], question: str, n: int) -> list[str]:
    """At most ``n`` distinct, non-empty paraphrases, none a copy of ``question`` (first kept)."""
    seen = {" ".join(question.split()).lower()}
    kept: list[str] = []
    for item in candidates:
        text = str(item).strip()
        key = " ".join(text.split()).lower()
        if text and key not in seen:
            seen.add(key)
            kept.append(text)
    return kept[:n]


class FederatedSelfConsistency(TechniqueModule):
    """Answer the question and ``n`` synonymous questions with zero-shot CoT; majority-vote the answers."""

    technique_id = "federated_sc"

    options = Sampling

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        pool: Pool | None = None,
        include_original: bool = True,
        question_field: str | None = None,
        trigger: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(signature)
        # n is the number of paraphrases: with the original question, n + 1 answers vote.
        self.sampling = Sampling.parse(self.technique_id, self.signature, options)
        self.n = self.sampling.n
        self.pool = self._check_pool(pool)
        self.include_original = bool(include_original)
        self.question_field = self._question_field(question_field)
        paraphrases = (
            "paraphrases",
            f"{self.n} rewordings of the {self.question_field}, each a whole question",
            list[str],
        )
        self.paraphrase = self.predictor(
            Step("federated_sc_paraphrase.j2", drop_outputs=True, after=(paraphrases,)),
            n=self.n,
            field=self.question_field,
        )
        self.answer = self.predictor(COT, trigger=trigger)

    def _question_field(self, name: str | None) -> str:
        text = [n for n, info in self.signature.input_fields.items() if info.annotation is str]
        if name is None:
            name = "question" if "question" in text else next(iter(text), None)
        if name is None or name not in text:
            raise InputError(
                f"technique {self.technique_id!r}: question_field={name!r} is not a str input of "
                f"signature {self.signature.signature!r} (the question it paraphrases)",
                hint=f"use one of {', '.join(text)}" if text else 'use e.g. "question -> answer"',
            )
        return name

    def _check_pool(self, pool: Any) -> Pool | None:
        ok = (
            pool is None
            or callable(pool)
            or _strings(pool)
            or (isinstance(pool, Mapping) and all(isinstance(k, str) and _strings(v) for k, v in pool.items()))
        )
        if not ok:
            raise InputError(
                f"technique {self.technique_id!r}: option pool={pool!r:.80} must be a callable question -> "
                "list[str], a mapping question -> list[str] or a list of str",
                hint='e.g. pool={"What is 6*7?": ["How much is six times seven?"]}',
            )
        return pool

    def _from_pool(self, question: str) -> list[str]:
        if callable(self.pool):
            found = self.pool(question)
            if not _strings(found):  # the callable is user code: check what it returns, naming the option
                raise InputError(
                    f"technique {self.technique_id!r}: option pool returned {found!r:.80}, not a list of str",
                    hint="return the synonymous questions as a list of strings",
                )
            return list(found)
        if isinstance(self.pool, Mapping):
            return list(self.pool.get(question, self.pool.get(question.strip(), ())))
        return list(self.pool or ())

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        question = str(inputs[self.question_field])
        failures: list[str] = []
        paraphrases = clean(self._from_pool(question), question, self.n) if self.pool is not None else []
        if not paraphrases:
            try:
                written = self.paraphrase(**inputs).get("paraphrases") or []
                paraphrases = clean([str(p) for p in written], question, self.n)
            except PARSE_ERRORS as exc:  # answer the original question alone rather than fail
                failures.append(f"paraphrase call: {type(exc).__name__}: {str(exc)[:300]}")
        questions = ([question] if self.include_original or not paraphrases else []) + paraphrases
        results = fan_out(functools.partial(self._ask, inputs), questions, self.sampling.num_threads)
        samples = [r for r in results if isinstance(r, dspy.Prediction)]
        failures += [f"question {i}: {r}" for i, r in enumerate(results) if isinstance(r, str)]
        if not samples:
            raise ParseError(f"none of the {len(questions)} answers could be parsed", raw="\n".join(failures))
        return voted(
            samples, self.sampling.vote(samples), paraphrases=paraphrases, questions=questions, failed_samples=failures
        )

    def _ask(self, inputs: dict[str, Any], question: str) -> dspy.Prediction | str:
        try:
            return self.answer(
                **{**inputs, self.question_field: question}, config={"temperature": self.sampling.temperature}
            )
        except PARSE_ERRORS as exc:
            return f"{type(exc).__name__}: {str(exc)[:300]}"


__all__ = ["FederatedSelfConsistency", "clean"]
