"""Synthetic prompting (Shao et al., 2023, arXiv 2302.00618): demos the model writes itself, from a few seeds.

Built once, on the first call, from the seed ``demos`` (every input, ``reasoning`` and every output;
for ``question -> answer`` the built-in GSM8K exemplars are the default):
* backward step (one call, at ``temperature``): given a topic word (cycled from ``topics``) and a
  target number of reasoning steps (cycled from ``min_steps`` to ``max_steps``), the model writes a
  reasoning chain first, then an example — inputs and outputs — that the chain solves;
* forward step (one call): the synthesized example is solved again by few-shot CoT over the seeds;
  it is kept only when both answers agree (normalized as for voting).
Up to ``max_tries`` backward/forward rounds, stopping at ``n_synthetic`` kept examples. Selection, as in
the paper: the kept examples are clustered (k-means over TF-IDF vectors of their inputs, ``n_demos``
clusters) and the most complex (most reasoning steps) of each cluster is a demo. When nothing was kept
the seeds are the demos (``from_seeds`` is True). Inference: one few-shot CoT call with the demos.
Calls: ≤ 2·max_tries once + 1 per question. Prediction: the outputs, ``reasoning``, ``demos`` (the
examples used), ``synthesized`` (every kept example), ``rejected``, ``from_seeds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dspy
import numpy as np

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import InputError
from promptkit.techniques.auto_cot import kmeans, tfidf_embed
from promptkit.techniques.base import (
    COT_FEWSHOT,
    REASONING,
    SignatureLike,
    Step,
    TechniqueModule,
    positive,
    render_instructions,
)
from promptkit.techniques.complexity import reasoning_steps
from promptkit.techniques.demos import COT_DEMOS, as_examples, check_demos, default_demos
from promptkit.techniques.options import check_temperature
from promptkit.techniques.voting import text_key

TOPICS = ("apples", "trains", "money", "books", "garden", "school", "birthday", "farm", "bakery", "football")


# Solving a synthesized example forward, to check it (the seed demos shown).
FORWARD = Step("synthetic_forward.j2", before=(REASONING,))


class SyntheticPrompting(TechniqueModule):
    """Few-shot CoT over examples synthesized backward from seeds and verified forward."""

    technique_id = "synthetic_prompting"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        demos: Sequence[Mapping[str, Any]] | None = None,
        n_synthetic: int = 4,
        max_tries: int = 6,
        n_demos: int = 2,
        topics: Sequence[str] = TOPICS,
        min_steps: int = 2,
        max_steps: int = 5,
        temperature: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__(signature)
        sig, tid = self.signature, self.technique_id
        given = default_demos(sig, COT_DEMOS, tid) if demos is None else demos
        self.seeds = check_demos(given, sig, tid, ("reasoning",))
        self.n_synthetic = positive("n_synthetic", n_synthetic, tid)
        self.max_tries = positive("max_tries", max_tries, tid)
        self.n_demos = positive("n_demos", n_demos, tid)
        if isinstance(topics, str) or not topics:
            raise InputError(
                f"technique {tid!r}: option topics must be a non-empty list of words",
                hint="pass topics=['apples', 'trains', ...]",
            )
        self.topics = [str(t) for t in topics]
        self.min_steps = positive("min_steps", min_steps, tid)
        self.max_steps = positive("max_steps", max_steps, tid, minimum=self.min_steps)
        self.temperature = check_temperature(temperature, tid)
        self.seed = seed
        names = [*sig.input_fields, "reasoning", *sig.output_fields]
        rendered = [{"fields": [{"name": n, "value": str(d[n])} for n in names]} for d in self.seeds]
        # The backward step writes the reasoning first, then the user's inputs and outputs (all as outputs).
        fields = {
            "topic": (str, dspy.InputField(desc="what the new example is about")),
            "n_steps": (int, dspy.InputField(desc="how many reasoning steps it must need")),
            "reasoning": (str, dspy.OutputField(desc="the reasoning chain, one step per line")),
            **{n: (str, dspy.OutputField(desc=f"the new example's {n}")) for n in sig.input_fields},
            **{
                n: (f.annotation, dspy.OutputField(desc=f"the new example's {n}")) for n, f in sig.output_fields.items()
            },
        }
        self.backward = dspy.Predict(
            dspy.Signature(
                fields,
                render_instructions(
                    "synthetic_backward.j2", **self._values(demos=rendered, reasoning_field="reasoning")
                ),
            )
        )
        self.forward_step = self.predictor(FORWARD, n_demos=len(self.seeds))
        self.forward_step.demos = as_examples(self.seeds, sig)
        self.predict = self.predictor(COT_FEWSHOT, n_demos=self.n_demos)
        self.synthesized: list[dict[str, Any]] | None = None
        self.rejected: list[dict[str, Any]] = []

    def _synthesize(self) -> list[dict[str, Any]]:
        field = list(self.signature.output_fields)[-1]
        kept: list[dict[str, Any]] = []
        span = self.max_steps - self.min_steps + 1
        for attempt in range(self.max_tries):
            if len(kept) >= self.n_synthetic:
                break
            topic, steps = self.topics[attempt % len(self.topics)], self.min_steps + attempt % span
            try:
                made = self.backward(
                    topic=topic, n_steps=steps, config={"temperature": self.temperature, "rollout_id": attempt}
                )
                example = {
                    n: made.get(n) for n in [*self.signature.input_fields, "reasoning", *self.signature.output_fields]
                }
                check = self.forward_step(**{n: example[n] for n in self.signature.input_fields})
            except PARSE_ERRORS:
                self.rejected.append({"topic": topic, "n_steps": steps, "why": "unparsed"})
                continue
            record = {**example, "topic": topic, "n_steps": steps}
            expected = text_key(example[field])
            if expected is not None and text_key(check.get(field)) == expected:
                kept.append(record)
            else:
                self.rejected.append({**record, "why": f"forward answer {check.get(field)!r} differs"})
        return kept

    def _select(self, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The most complex example of each of ``n_demos`` clusters (in pool order)."""
        if len(kept) <= self.n_demos:
            return kept
        texts = [" ".join(str(e[n]) for n in self.signature.input_fields) for e in kept]
        labels, _ = kmeans(np.asarray(tfidf_embed(texts)), self.n_demos, self.seed)
        picks = []
        for cluster in sorted(set(int(label) for label in labels)):
            members = [i for i, label in enumerate(labels) if int(label) == cluster]
            picks.append(max(members, key=lambda i: (reasoning_steps(kept[i]["reasoning"]), -i)))
        return [kept[i] for i in sorted(picks)]

    def build_demos(self) -> list[dict[str, Any]]:
        if self.synthesized is None:
            self.synthesized = self._synthesize()
            chosen = self._select(self.synthesized) or self.seeds[: self.n_demos]
            keys = [*self.signature.input_fields, "reasoning", *self.signature.output_fields]
            self.predict.demos = as_examples([{k: c[k] for k in keys} for c in chosen], self.signature)
        return [d.toDict() for d in self.predict.demos]

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        demos = self.build_demos()
        prediction = self.predict(**inputs)
        return dspy.Prediction(
            **prediction.toDict(),
            demos=demos,
            synthesized=self.synthesized,
            rejected=self.rejected,
            from_seeds=not self.synthesized,
        )
