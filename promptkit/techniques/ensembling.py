"""Ensembling: self-consistency (sample N reasoning paths, majority vote) and ensemble refinement.

Sampling. N samples at ``temperature > 0``: one request with ``n=N`` when the backend takes ``n``
(the LM's own ``supports_n`` flag, else ``"n" in lm.supported_params``; a server that silently
returns fewer choices gets the rest one by one), otherwise N requests, each with its own
``rollout_id`` (0..N-1) — ``rollout_id`` is part of DSPy's cache key, so the N requests
are N distinct cache entries instead of one answer served N times. A sample whose reply does not
parse is dropped from the vote (kept in ``failed_samples``); if every sample fails, the last error
is raised.

Voting. Each sample's answer field is normalized (:func:`normalize_answer`: case, spacing, a
leading "the answer is", trailing punctuation, quotes, thousands separators, ``$``, ``6.0`` -> ``6``);
empty answers do not vote. The winner has the most votes; **ties go to the answer seen first**
(the earliest sample among the tied answers), so a rerun over the same samples gives the same result.
The prediction carries the winning sample's fields, ``votes`` (normalized answer -> count, in
first-seen order) and ``samples`` (every parsed sample).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import dspy

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import ParseError
from promptkit.techniques.base import (
    SignatureLike,
    TechniqueModule,
    extend,
    pick_output,
    positive,
    render_instructions,
    run_parallel,
)
from promptkit.techniques.prompted import REASONING, ZERO_SHOT_TRIGGER

Normalizer = Callable[[Any], str | None]

_ANSWER_PREFIX = re.compile(r"^\s*(?:so\s+|therefore,?\s+)?(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*", re.I)
_NUMBER = re.compile(r"^[-+]?\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^[-+]?\$?\d+(?:\.\d+)?$")


def normalize_answer(value: Any) -> str | None:
    """A comparable form of an answer (see the module docstring); None when nothing is left."""
    if value is None:
        return None
    text = _ANSWER_PREFIX.sub("", str(value)).strip()
    text = " ".join(text.split()).strip("\"'`*").rstrip(".!;").strip().lower()
    if _NUMBER.match(text):
        number = text.replace(",", "").replace("$", "")
        value_f = float(number)
        text = str(int(value_f)) if value_f.is_integer() else repr(value_f)
    return text or None


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

    jobs: list[Callable[[], dspy.Prediction | str]] = [functools.partial(one, i) for i in rollout_ids]
    results = run_parallel(jobs, num_threads)
    return [r for r in results if isinstance(r, dspy.Prediction)], [r for r in results if isinstance(r, str)]


def vote(samples: Sequence[dspy.Prediction], field: str, normalize: Normalizer) -> tuple[int, dict[str, int]]:
    """(index of the winning sample, votes). Ties: the answer seen first wins."""
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


def check_temperature(temperature: float, technique: str) -> float:
    from promptkit.errors import InputError

    if not isinstance(temperature, int | float) or temperature <= 0:
        raise InputError(
            f"technique {technique!r}: temperature={temperature!r} must be > 0 (identical samples cannot vote)",
            hint="use temperature=0.7",
        )
    return float(temperature)


class SelfConsistency(TechniqueModule):
    """N chain-of-thought samples, normalized answers, majority vote (Wang et al., 2022)."""

    technique_id = "self_consistency"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        n: int = 5,
        temperature: float = 0.7,
        field: str | None = None,
        normalize: Normalizer = normalize_answer,
        trigger: str = ZERO_SHOT_TRIGGER,
        num_threads: int = 1,
    ) -> None:
        super().__init__(signature)
        self.n = positive("n", n, self.technique_id)
        self.temperature = check_temperature(temperature, self.technique_id)
        self.field = pick_output(self.signature, field, self.technique_id)
        self.normalize = normalize
        self.num_threads = positive("num_threads", num_threads, self.technique_id)
        text = render_instructions("cot_zeroshot.j2", **self._values(trigger=trigger))
        self.predict = dspy.Predict(
            extend(self.signature, technique=self.technique_id, instructions=text, before=(REASONING,))
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        samples, failures = sample(self.predict, self._inputs(kwargs), self.n, self.temperature, self.num_threads)
        winner, votes = vote(samples, self.field, self.normalize)
        return dspy.Prediction(**samples[winner].toDict(), votes=votes, samples=samples, failed_samples=failures)


def format_attempts(samples: Sequence[dspy.Prediction], outputs: Sequence[str]) -> str:
    blocks = []
    for index, prediction in enumerate(samples, 1):
        lines = [f"Attempt #{index}", f"Reasoning: {prediction.get('reasoning', '')}"]
        lines += [f"{name}: {prediction.get(name)}" for name in outputs]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


class EnsembleRefinement(TechniqueModule):
    """Stage 1: N CoT samples. Stage 2: M refinements, each conditioned on all N attempts. Plurality
    vote over the refinements (Singhal et al., 2023; the paper used N=11, M=33)."""

    technique_id = "ensemble_refinement"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        n: int = 3,
        m: int = 3,
        temperature: float = 0.7,
        field: str | None = None,
        normalize: Normalizer = normalize_answer,
        num_threads: int = 1,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.n, self.m = positive("n", n, tid), positive("m", m, tid)
        self.temperature = check_temperature(temperature, tid)
        self.field = pick_output(self.signature, field, tid)
        self.normalize = normalize
        self.num_threads = positive("num_threads", num_threads, tid)
        first = render_instructions("cot_zeroshot.j2", **self._values(trigger=ZERO_SHOT_TRIGGER))
        self.generate = dspy.Predict(extend(self.signature, technique=tid, instructions=first, before=(REASONING,)))
        refine = render_instructions("ensemble_refinement.j2", **self._values(n_attempts=self.n))
        attempts = ("attempts", "earlier attempts at this task, with their reasoning and answers", str)
        self.refine = dspy.Predict(
            extend(self.signature, technique=tid, instructions=refine, inputs=(attempts,), before=(REASONING,))
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        attempts, _ = sample(self.generate, inputs, self.n, self.temperature, self.num_threads)
        shown = format_attempts(attempts, list(self.signature.output_fields))
        refine_inputs = {**inputs, "attempts": shown}
        refined, failures = sample(self.refine, refine_inputs, self.m, self.temperature, self.num_threads)
        winner, votes = vote(refined, self.field, self.normalize)
        return dspy.Prediction(
            **refined[winner].toDict(), votes=votes, attempts=attempts, samples=refined, failed_samples=failures
        )


__all__ = [
    "EnsembleRefinement",
    "SelfConsistency",
    "check_temperature",
    "normalize_answer",
    "sample",
    "supports_n",
    "vote",
]
