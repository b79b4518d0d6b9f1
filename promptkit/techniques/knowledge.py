"""Chain-of-Knowledge (Li et al., 2023, arXiv 2305.13269): ground a low-agreement rationale step by step
in knowledge fetched for each step, then answer from the corrected rationale.

Mechanism. (1) Reasoning preparation: ``n`` zero-shot CoT samples at ``temperature`` voted on ``field``
(:meth:`~promptkit.techniques.options.Sampling.consensus`), and one call naming the knowledge domains
the question needs (``cok_domains.j2``). When the winning answer's share of the ``n`` samples is
**strictly greater** than ``threshold`` (default 0.5, the same gate as verify_and_edit), the winning
sample is returned: n + 1 calls. (2) Otherwise dynamic knowledge adapting over the winning rationale,
split into steps (one per line, else per sentence; numbering stripped; steps past ``max_steps`` are
folded into the last one so the whole rationale is covered). For each step in order: one query call
(``cok_query.j2``) that sees the domains, the step and the steps corrected so far and writes a
natural-language query; retrieval of the top ``k`` passages; one correction call (``cok_correct.j2``) that
rewrites the step from the evidence and the earlier corrected steps. (3) Answer consolidation
(``cok_answer.j2``): the user's outputs from the corrected rationale. Calls: n + 1, + 2·steps + 1.

Knowledge sources (option ``retriever``): a callable ``query -> passages`` (str, list, or an object with
``.passages``), or a mapping ``source name -> retriever``; with a mapping the query call also picks the
``source`` among the names (matched case-insensitively; a name it does not know falls back to the first
entry), standing in for the paper's choice of sources by domain. Departures from the paper: queries are
natural language only (no SPARQL/SQL generators), the next step is rewritten from the original one
rather than regenerated, and **without a retriever the query call also writes the answer to its query
from the model's own knowledge** (no extra call), which catches only facts the model recalls better
when asked directly. Prediction: the outputs, ``votes``, ``share``, ``domains``, ``corrected`` (whether
stage 2 ran), ``steps`` (per step: original, source, query, evidence, corrected), ``rationale``,
``corrected_rationale``, ``samples``, ``failed_samples``.
"""

from __future__ import annotations

import re
from typing import Any

import dspy

from promptkit.techniques.base import (
    Field,
    SignatureLike,
    Step,
    bullet_list,
    outputs_of,
    positive,
)
from promptkit.techniques.options import SampleThenCorrect

DOMAINS: Field = ("domains", "the knowledge domains the task needs, comma-separated", str)
CORRECTED: Field = ("corrected_steps", "the reasoning steps corrected so far, numbered", str)
STEP: Field = ("step", "the reasoning step to ground", str)
QUERY: Field = ("query", "a natural-language query for the knowledge source", str)

_NUMBERING = re.compile(r"^\s*(?:[-*•]\s*|\(?\d+[.):]\s*|step\s*\d+\s*[:.)-]\s*)", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def rationale_steps(rationale: str, max_steps: int) -> list[str]:
    """The rationale's steps: lines, else sentences; numbering stripped; the overflow joins the last step."""
    lines = [_NUMBERING.sub("", line).strip() for line in rationale.splitlines()]
    steps = [line for line in lines if line]
    if len(steps) <= 1:
        steps = [s.strip() for s in _SENTENCE.split(" ".join(steps)) if s.strip()]
    if len(steps) > max_steps:
        steps = [*steps[: max_steps - 1], " ".join(steps[max_steps - 1 :])]
    return steps


class ChainOfKnowledge(SampleThenCorrect):
    """Self-consistency + knowledge domains; below the agreement threshold each rationale step is queried,
    grounded in retrieved (or recalled) knowledge and corrected in order; the answer comes from the
    corrected rationale. See the module docstring."""

    technique_id = "cok"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        max_steps: int = 5,
        trigger: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(signature, trigger=trigger, **options)
        self.max_steps = positive("max_steps", max_steps, self.technique_id)
        self.sources = self.retrieval.sources
        recalls = self.retrieval.retriever is None
        self.domains = self.predictor(
            Step(
                "cok_domains.j2",
                drop_outputs=True,
                after=(("domains", "the knowledge domains the task needs", list[str]),),
            )
        )
        # The query call's outputs depend on the sources: a pick among named sources; a recalled answer
        # when there is nothing to retrieve from.
        source: tuple[Field, ...] = (("source", f"one of: {', '.join(self.sources)}", str),) if self.sources else ()
        recall: tuple[Field, ...] = (
            (("knowledge", "the answer to the query, from what you reliably know", str),) if recalls else ()
        )
        self.query = self.predictor(
            Step("cok_query.j2", drop_outputs=True, inputs=(DOMAINS, CORRECTED, STEP), after=(*source, QUERY, *recall)),
            sources=self.sources,
            recall=recalls,
        )
        self.correct = self.predictor(
            Step(
                "cok_correct.j2",
                drop_outputs=True,
                inputs=(CORRECTED, STEP, ("evidence", "knowledge found for the step's query", str)),
                after=(("corrected_step", "the step rewritten so it agrees with the evidence", str),),
            )
        )
        self.answer = self.predictor(
            Step(
                "cok_answer.j2",
                inputs=(("corrected_rationale", "the reasoning, corrected step by step with knowledge", str),),
            )
        )

    def _adapt(self, inputs: dict[str, Any], domains: list[str], step: str, done: list[str]) -> dict[str, Any]:
        """Query, retrieve (or recall) and correct one step, given the steps corrected before it."""
        so_far = bullet_list(done) or "(none yet)"
        asked = self.query(
            **inputs, domains=", ".join(domains) or "(general knowledge)", corrected_steps=so_far, step=step
        )
        query = str(asked.query)
        if self.retrieval.retriever is not None:
            name, evidence = self.retrieval.search(query, asked.get("source"))
        else:
            name, evidence = None, [str(asked.get("knowledge") or "")]
        shown = bullet_list(evidence) or "(nothing found)"
        fixed = self.correct(**inputs, corrected_steps=so_far, step=step, evidence=f"Query: {query}\n{shown}")
        return {
            "original": step,
            "source": name,
            "query": query,
            "evidence": evidence,
            "corrected": str(fixed.corrected_step),
        }

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        best, common, agreed = self.vote_first(inputs)
        domains = [str(d) for d in self.domains(**inputs).domains or []]
        common["domains"] = domains
        rationale = common["rationale"]
        if agreed:
            return dspy.Prediction(**best, **common, corrected=False, steps=[], corrected_rationale=None)
        steps: list[dict[str, Any]] = []
        # Sequential on purpose: each step is corrected in the light of the corrected steps before it.
        for step in rationale_steps(rationale, self.max_steps):
            steps.append(self._adapt(inputs, domains, step, [s["corrected"] for s in steps]))
        corrected = "\n".join(s["corrected"] for s in steps) or rationale
        final = self.answer(**inputs, corrected_rationale=corrected)
        return dspy.Prediction(
            **outputs_of(final, self.signature), **common, corrected=True, steps=steps, corrected_rationale=corrected
        )
