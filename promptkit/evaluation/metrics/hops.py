"""The seed's multi-hop check (``validate_answer_and_hops``): short hop queries, no near-duplicates.

A row passes when every hop query is at most ``max_length`` characters and no hop query repeats an
earlier hop (the question included) with token F1 >= ``max_similarity``. As in the seed, the first
query may echo the question: duplicates are looked for from the second query on. Unlike the seed,
the question's own length is not checked: it is not the program's to shorten.

While an optimizer traces, queries come from the trace (every predictor output with a ``query``
field); otherwise from the prediction's ``queries`` (or ``hops`` / ``search_queries``) field.
"""

from __future__ import annotations

from typing import Any

from .base import FieldSpec, Metric, MetricError, as_text, gold, predicted, read_field
from .text import token_f1


def hop_queries_from_trace(trace: Any, query_key: str = "query") -> list[str]:
    """The ``query`` outputs recorded in a DSPy trace (a list of ``(predictor, inputs, outputs)``)."""
    queries = []
    for step in trace or []:
        outputs = step[-1] if isinstance(step, tuple | list) and step else None
        value = read_field(outputs, query_key) if outputs is not None else None
        if isinstance(value, str):
            queries.append(value)
    return queries


def hops_are_valid(question: str, queries: list[str], max_length: int = 100, max_similarity: float = 0.8) -> bool:
    if any(len(query) > max_length for query in queries):
        return False
    hops = [question, *queries]
    return not any(
        max(token_f1(hops[index], earlier) for earlier in hops[:index]) >= max_similarity
        for index in range(2, len(hops))
    )


class HopsValid(Metric):
    name = "hops_valid"
    binary = True

    def __init__(
        self,
        max_length: int = 100,
        max_similarity: float = 0.8,
        field: FieldSpec = ("queries", "hops", "search_queries"),
        question_field: FieldSpec = "question",
        query_key: str = "query",
    ) -> None:
        self.max_length, self.max_similarity = max_length, max_similarity
        self.field, self.question_field, self.query_key = field, question_field, query_key

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        question = as_text(gold(example, self.question_field))
        queries = hop_queries_from_trace(trace, self.query_key) if trace is not None else []
        if not queries:
            try:
                value = predicted(prediction, self.field)
            except MetricError:
                if trace is not None:
                    return 1.0  # traced program without hop queries: nothing to reject (as in the seed)
                raise
            queries = [value] if isinstance(value, str) else [as_text(q) for q in value]
        return float(hops_are_valid(question, queries, self.max_length, self.max_similarity))
