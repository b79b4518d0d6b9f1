"""Multi-hop RAG (the seed's ``Multihoprag``, DSPy 3.4): per hop, write a search query from the question
and the context so far, retrieve, de-duplicate; then answer from everything gathered.

The prediction carries every hop (``hops``: ``[{"query": str, "passages": [Passage, ...]}, ...]``),
the de-duplicated ``context`` the answer was generated from (and its ``passages``, like RAG's), and
``degraded``: the steps whose reply did not parse and what was done instead (see
:mod:`promptkit.programs.steps`; by default a failed hop query searches with the question, and a
failed answer is asked once more, sampled).
"""

from __future__ import annotations

from typing import Any

import dspy
from dspy.dsp.utils import deduplicate

from promptkit.errors import InputError
from promptkit.programs.rag import (
    RetrieverLike,
    SharesRetriever,
    answer_predictor,
    retrieve_passages,
    search_options,
)
from promptkit.programs.steps import OnParseError, check_on_parse_error, run_step
from promptkit.retrieval.modes import Fusion, Mode


class GenerateSearchQuery(dspy.Signature):
    """Write a simple search query that will help answer a complex question."""

    context: list[str] = dspy.InputField(desc="may contain relevant facts")
    question: str = dspy.InputField()
    query: str = dspy.OutputField()


class MultiHopRAG(SharesRetriever, dspy.Module):
    def __init__(
        self,
        retriever: RetrieverLike | None = None,
        passages_per_hop: int = 3,
        max_hops: int = 2,
        *,
        chain_of_thought: bool = True,
        on_parse_error: OnParseError = "degrade",
        mode: Mode | None = None,
        fusion: Fusion | None = None,
    ) -> None:
        super().__init__()
        if passages_per_hop < 1 or max_hops < 1:
            raise InputError(
                f"passages_per_hop and max_hops must be >= 1, got {passages_per_hop} and {max_hops}",
                hint="e.g. MultiHopRAG(retriever, passages_per_hop=3, max_hops=2)",
            )
        self.retriever = retriever
        self.passages_per_hop = passages_per_hop
        self.max_hops = max_hops
        self.on_parse_error = check_on_parse_error(on_parse_error)
        self.search = search_options(mode, fusion)  # for a promptkit Retriever: its own when empty
        # One query writer per hop, as in the seed: each hop learns its own demos when compiled.
        make = dspy.ChainOfThought if chain_of_thought else dspy.Predict
        self.generate_query = [make(GenerateSearchQuery) for _ in range(max_hops)]
        self.generate_answer = answer_predictor(chain_of_thought)

    def forward(self, question: str) -> dspy.Prediction:
        context: list[str] = []
        hops: list[dict[str, Any]] = []
        degraded: list[dict[str, Any]] = []
        for hop in range(self.max_hops):
            # A query that does not parse is sound to replace: search with the question itself.
            query = run_step(
                self.generate_query[hop], f"query {hop + 1}", self.on_parse_error, degraded,
                fallback={"query": question}, context=context, question=question,
            ).query  # fmt: skip
            passages = retrieve_passages(self.retriever, query, self.passages_per_hop, self.search)
            hops.append({"query": query, "passages": passages})
            context = deduplicate(context + [p.text for p in passages])
        # Nothing stands in for the answer: degrading it means asking once more.
        retry: OnParseError = "raise" if self.on_parse_error == "raise" else "retry"
        prediction = run_step(self.generate_answer, "answer", retry, degraded, context=context, question=question)
        passages = list({p.text: p for hop in hops for p in hop["passages"]}.values())  # as RAG's: one per text
        return dspy.Prediction(
            context=context, answer=prediction.answer, passages=passages, hops=hops, degraded=degraded
        )
