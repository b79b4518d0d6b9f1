"""Ensembling: self-consistency (sample N reasoning paths, majority vote) and ensemble refinement.

Both sample with the :class:`~promptkit.techniques.options.Sampling` options and vote as described in
:mod:`promptkit.techniques.voting`: answers are compared by a key chosen by the voted field's type
(numbers: the final number; choices: the label; text: normalized text), or ``normalize=``. The
prediction carries the fields of the first sample that gave the winning answer (its spelling and its
reasoning), ``votes`` (key -> count, in first-seen order) and ``samples`` (every parsed sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from promptkit.techniques.base import COT, REASONING, Field, SignatureLike, Step, TechniqueModule, positive
from promptkit.techniques.options import Sampling
from promptkit.techniques.voting import sample, supports_n, vote


class SelfConsistency(TechniqueModule):
    """N chain-of-thought samples, normalized answers, majority vote (Wang et al., 2022)."""

    technique_id = "self_consistency"
    options = Sampling

    def __init__(
        self, signature: SignatureLike = "question -> answer", *, trigger: str | None = None, **options: Any
    ) -> None:
        super().__init__(signature)
        self.sampling = Sampling.parse(self.technique_id, self.signature, options)
        self.predict = self.predictor(COT, trigger=trigger)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        samples, failures = self.sampling.sample(self.predict, self._inputs(kwargs))
        return voted(samples, self.sampling.vote(samples), failed_samples=failures)


def voted(samples: Sequence[dspy.Prediction], tally: tuple[int, dict[str, int]], **extra: Any) -> dspy.Prediction:
    """The prediction of a vote: the winning sample's fields (the answer as it spelled it, its
    reasoning), ``votes`` and ``samples``, plus ``extra``."""
    winner, votes = tally
    return dspy.Prediction(**samples[winner].toDict(), votes=votes, samples=list(samples), **extra)


def format_attempts(samples: Sequence[dspy.Prediction], outputs: Sequence[str]) -> str:
    blocks = []
    for index, prediction in enumerate(samples, 1):
        lines = [f"Attempt #{index}", f"Reasoning: {prediction.get('reasoning', '')}"]
        lines += [f"{name}: {prediction.get(name)}" for name in outputs]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


ATTEMPTS: Field = ("attempts", "earlier attempts at this task, with their reasoning and answers", str)


class EnsembleRefinement(TechniqueModule):
    """Stage 1: N CoT samples. Stage 2: M refinements, each conditioned on all N attempts. Plurality
    vote over the refinements (Singhal et al., 2023; the paper used N=11, M=33)."""

    technique_id = "ensemble_refinement"
    options = Sampling

    def __init__(self, signature: SignatureLike = "question -> answer", *, m: int = 3, **options: Any) -> None:
        super().__init__(signature)
        self.sampling = Sampling.parse(self.technique_id, self.signature, options)
        self.m = positive("m", m, self.technique_id)
        self.generate = self.predictor(COT)
        self.refine = self.predictor(
            Step("ensemble_refinement.j2", inputs=(ATTEMPTS,), before=(REASONING,)), n_attempts=self.sampling.n
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        attempts, _ = self.sampling.sample(self.generate, inputs)
        shown = format_attempts(attempts, list(self.signature.output_fields))
        refined, failures = self.sampling.sample(self.refine, {**inputs, "attempts": shown}, self.m)
        return voted(refined, self.sampling.vote(refined), attempts=attempts, failed_samples=failures)


__all__ = ["EnsembleRefinement", "SelfConsistency", "format_attempts", "sample", "supports_n", "vote", "voted"]
