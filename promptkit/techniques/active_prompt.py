"""Active-Prompt (Diao et al., 2023, arXiv 2302.12246): annotate the questions the model is least sure about.

Built once, on the first call: each question of the pool is answered ``k`` times by zero-shot CoT at
``temperature`` (the sampling of :mod:`.ensembling`); its uncertainty is the *disagreement* (distinct
normalized answers / k) or the *entropy* of the answers. The ``n_demos`` most uncertain questions
(ties: pool order) are annotated — reasoning and answer written by a person — and become the
few-shot CoT demos of every later call.

Annotation: ``annotate(example) -> {"reasoning": ..., <outputs>: ...}`` (a person, an annotation
queue); or, when every pool item already carries ``reasoning`` and the outputs (an annotated pool),
those. Without ``questions``, the pool is the built-in GSM8K exemplars of Wei et al. with their
human-written chains (``question -> answer`` only), so ``promptkit ask --technique active_prompt``
runs as is. Calls: pool·k once (fewer with a backend that samples n per request) + 1 per question.
Prediction: the outputs, ``reasoning``, ``uncertainty`` (per pool question: question, answers,
score), ``demo_questions``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dspy

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import InputError
from promptkit.techniques.base import COT, COT_FEWSHOT, SignatureLike, TechniqueModule, positive
from promptkit.techniques.demos import COT_DEMOS, as_examples, check_demos, default_demos
from promptkit.techniques.options import check_temperature
from promptkit.techniques.voting import sample, text_key

Annotator = Callable[[dict[str, Any]], Mapping[str, Any]]
UNCERTAINTY = ("disagreement", "entropy")


def uncertainty(answers: Sequence[Any], k: int, metric: str) -> float:
    """Disagreement (distinct answers / k) or entropy of the normalized answers; a failed sample is its own answer."""
    keys = [text_key(a) or f"<none {i}>" for i, a in enumerate(answers)]
    keys += [f"<failed {i}>" for i in range(k - len(keys))]
    counts = Counter(keys)
    if metric == "disagreement":
        return len(counts) / k
    return -sum(c / k * math.log(c / k) for c in counts.values())


class ActivePrompt(TechniqueModule):
    """Few-shot CoT whose demos are the pool questions with the most uncertain answers, annotated."""

    technique_id = "active_prompt"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        questions: Sequence[Mapping[str, Any] | str] | None = None,
        annotate: Annotator | None = None,
        k: int = 3,
        n_demos: int = 2,
        metric: str = "disagreement",
        temperature: float = 0.7,
        trigger: str | None = None,
        num_threads: int = 4,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.k = positive("k", k, tid)
        self.n_demos = positive("n_demos", n_demos, tid)
        if metric not in UNCERTAINTY:
            raise InputError(
                f"technique {tid!r}: option metric={metric!r} is not known", hint=f"use one of {', '.join(UNCERTAINTY)}"
            )
        self.metric = metric
        self.temperature = check_temperature(temperature, tid)
        self.num_threads = positive("num_threads", num_threads, tid)
        if annotate is not None and not callable(annotate):
            raise InputError(
                f"technique {tid!r}: option annotate must be callable (example -> annotation)",
                hint="pass annotate=lambda ex: {'reasoning': ..., 'answer': ...}",
            )
        self.annotate = annotate
        self.pool = self._pool(questions)
        # No trigger given: the template's own phrase (_partials/cot.j2), the one copy of it.
        self.zero_shot = self.predictor(COT, trigger=trigger or None)
        self.predict = self.predictor(COT_FEWSHOT, n_demos=self.n_demos)
        self.ranking: list[dict[str, Any]] | None = None

    def _pool(self, questions: Any) -> list[dict[str, Any]]:
        tid, names = self.technique_id, list(self.signature.input_fields)
        if questions is None:
            return default_demos(self.signature, COT_DEMOS, tid)
        if isinstance(questions, str | bytes) or not isinstance(questions, Sequence) or not questions:
            raise InputError(
                f"technique {tid!r}: option questions must be a non-empty list", hint="pass questions=[...]"
            )
        pool = []
        for number, item in enumerate(questions, 1):
            if isinstance(item, str) and len(names) == 1:
                pool.append({names[0]: item})
            elif isinstance(item, Mapping):
                pool.append(dict(item))
            else:
                raise InputError(
                    f"technique {tid!r}: questions #{number} is a {type(item).__name__}",
                    hint=f"give each question as a string or a dict with {', '.join(names)}",
                )
        if self.annotate is None:  # the pool must carry its annotations
            try:
                check_demos(pool, self.signature, tid, ("reasoning",))
            except InputError:
                raise InputError(
                    f"technique {tid!r}: the questions carry no annotations and no annotate=... was given",
                    hint="pass annotate=fn (example -> {'reasoning': ..., <outputs>: ...}), or give each question "
                    "its reasoning and outputs",
                ) from None
        return pool

    def _inputs_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.signature.input_fields}

    def _rank(self) -> list[dict[str, Any]]:
        field = list(self.signature.output_fields)[-1]
        ranking = []
        for index, item in enumerate(self.pool):
            try:
                samples, _ = sample(self.zero_shot, self._inputs_of(item), self.k, self.temperature, self.num_threads)
            except PARSE_ERRORS:  # no sample parsed: as uncertain as it gets
                samples = []
            answers = [s.get(field) for s in samples]
            ranking.append(
                {
                    "index": index,
                    "question": self._inputs_of(item),
                    "answers": answers,
                    "score": uncertainty(answers, self.k, self.metric),
                }
            )
        return sorted(ranking, key=lambda r: (-r["score"], r["index"]))

    def build_demos(self) -> list[dict[str, Any]]:
        if self.ranking is None:
            self.ranking = self._rank()
            chosen = [self.pool[r["index"]] for r in self.ranking[: self.n_demos]]
            if self.annotate is not None:
                chosen = [{**self._inputs_of(c), **dict(self.annotate(self._inputs_of(c)))} for c in chosen]
            demos = check_demos(chosen, self.signature, self.technique_id, ("reasoning",))
            self.predict.demos = as_examples(demos, self.signature)
        return [d.toDict() for d in self.predict.demos]

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        self.build_demos()
        prediction = self.predict(**inputs)
        assert self.ranking is not None
        chosen = [r["question"] for r in self.ranking[: self.n_demos]]
        return dspy.Prediction(**prediction.toDict(), uncertainty=self.ranking, demo_questions=chosen)
