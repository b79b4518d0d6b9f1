"""Complexity-based prompting (Fu et al., 2022, arXiv 2210.00720): complex exemplars, complex chains.

Prompting. From a pool of worked examples with reasoning (option ``demos``; default: the GSM8K
exemplars ``cot_fewshot`` uses, for ``question -> answer`` only), the ``k`` (default 8, the paper's
GSM8K prompt size; a smaller pool is used whole) with the most reasoning steps become the CoT demos,
most complex first. **Steps** (:func:`reasoning_steps`): the non-empty lines of the reasoning; a
reasoning written as one line counts its sentences instead (the paper's annotations put one step per
line, Wei et al.'s exemplars are one paragraph). **Ties** keep pool order (a stable sort), so the
choice is deterministic.

Decoding. ``n`` (default 1): one call. With ``n > 1`` (complexity-based consistency), ``n`` chains are
sampled at ``temperature`` (:func:`voting.sample`: one request with ``n`` or ``n`` distinct
``rollout_id`` requests; unparseable samples go to ``failed_samples``), the ``top_k`` chains with the
most steps (default: the longer half, ``(n + 1) // 2``; ties: the earlier sample) vote with
:func:`voting.vote` in sampling order, so its tie rule (first seen wins) holds. The prediction
carries the winner's fields, ``votes``, ``samples`` (every parsed chain), ``voters`` (indices of the
chains that voted), ``failed_samples`` and ``demos_used`` (the chosen demos, in prompt order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import dspy

from promptkit.techniques.base import REASONING, SignatureLike, Step, TechniqueModule, positive
from promptkit.techniques.demos import COT_DEMOS, as_examples, check_demos, default_demos
from promptkit.techniques.ensembling import voted
from promptkit.techniques.options import Sampling

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def reasoning_steps(reasoning: Any) -> int:
    """The number of reasoning steps: non-empty lines, or the sentences of a one-line reasoning."""
    lines = [line for line in str(reasoning or "").splitlines() if line.strip()]
    if len(lines) == 1:
        return len([s for s in _SENTENCE_END.split(lines[0].strip()) if s.strip()])
    return len(lines)


def most_complex(items: Sequence[Any], k: int, steps: Any) -> list[int]:
    """Indices of the ``k`` items with the most steps, most first; ties keep the items' order."""
    return sorted(range(len(items)), key=lambda i: -steps(items[i]))[:k]


class ComplexCoT(TechniqueModule):
    """Few-shot CoT with the most complex demos; with ``n > 1``, a vote over the most complex chains."""

    technique_id = "complex_cot"

    options = Sampling

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        demos: Sequence[Mapping[str, Any] | dspy.Example] | None = None,
        k: int = 8,
        top_k: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        # Complexity-based prompting is one call; sampling (complexity-based consistency) is asked for with n.
        self.sampling = Sampling.parse(tid, self.signature, options, n=1)
        self.k = positive("k", k, tid)
        self.top_k = (self.sampling.n + 1) // 2 if top_k is None else positive("top_k", top_k, tid)
        pool = check_demos(
            default_demos(self.signature, COT_DEMOS, tid) if demos is None else demos,
            self.signature,
            tid,
            ("reasoning",),
        )
        chosen = most_complex(pool, self.k, lambda d: reasoning_steps(d["reasoning"]))
        self.demos_used = [pool[i] for i in chosen]
        self.predict = self.predictor(Step("complex_cot.j2", before=(REASONING,)), n_demos=len(self.demos_used))
        self.predict.demos = as_examples(self.demos_used, self.signature)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        samples: list[dspy.Prediction]
        failures: list[str] = []
        if self.sampling.n == 1:
            samples = [self.predict(**inputs)]
        else:
            samples, failures = self.sampling.sample(self.predict, inputs)
        # Only the most complex chains vote, but in sampling order, so vote()'s first-seen tie rule holds.
        voters = sorted(most_complex(samples, self.top_k, lambda s: reasoning_steps(s.get("reasoning"))))
        winner, votes = self.sampling.vote([samples[i] for i in voters])
        return voted(
            samples, (voters[winner], votes), voters=voters, failed_samples=failures, demos_used=self.demos_used
        )


__all__ = ["ComplexCoT", "most_complex", "reasoning_steps"]
