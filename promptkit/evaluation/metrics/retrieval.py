"""Retrieval metrics against qrels: nDCG@k, recall@k and MRR.

The functions take a ranked list of ids and a relevance mapping (id -> grade; a list of ids means
grade 1 each); only grades > 0 count as relevant. nDCG uses linear gains (``grade / log2(rank+1)``),
as trec_eval and BEIR do. Repeated ids in a ranking count once, at their first rank.
The metric classes read the ranking from the prediction (``passage_ids``, ``ids``, ``passages`` or
``context``; passages may be ids, dicts / objects with an ``id``, or ``"Title | text"`` strings with
``id_key="title"``) and the judgements from the example (``relevance`` or ``gold_ids``, as the BEIR
loader produces).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .base import FieldSpec, Metric, MetricError, MetricNotApplicable, gold, predicted

Relevance = Mapping[str, float] | Iterable[str]
_ID_KEYS = ("id", "_id", "pid", "doc_id", "corpus_id")


def _grades(relevance: Relevance) -> dict[str, float]:
    if isinstance(relevance, Mapping):
        return {str(doc): float(grade) for doc, grade in relevance.items() if float(grade) > 0}
    if isinstance(relevance, str):
        return {relevance: 1.0}
    return {str(doc): 1.0 for doc in relevance}


def _top_k(ranked: Sequence[str], k: int | None) -> list[str]:
    unique = list(dict.fromkeys(map(str, ranked)))  # first occurrence wins, order kept
    return unique if k is None else unique[:k]


def _require_relevant(grades: Mapping[str, float]) -> None:
    if not grades:
        raise ValueError("no relevant documents in the judgements (every grade is 0 or the list is empty)")


def _check_k(k: int | None) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive whole number, got {k!r}")


def ndcg_at_k(ranked: Sequence[str], relevance: Relevance, k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first ``k`` results."""
    _check_k(k)
    grades = _grades(relevance)
    _require_relevant(grades)
    dcg = sum(grades.get(doc, 0.0) / math.log2(rank + 2) for rank, doc in enumerate(_top_k(ranked, k)))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], relevance: Relevance, k: int = 10) -> float:
    """Share of the relevant documents found in the first ``k`` results."""
    _check_k(k)
    grades = _grades(relevance)
    _require_relevant(grades)
    return sum(1 for doc in _top_k(ranked, k) if doc in grades) / len(grades)


def mrr(ranked: Sequence[str], relevance: Relevance, k: int | None = None) -> float:
    """Reciprocal rank of the first relevant result (0 if none in the first ``k``; all when ``k`` is None)."""
    _check_k(k)
    grades = _grades(relevance)
    _require_relevant(grades)
    for rank, doc in enumerate(_top_k(ranked, k), start=1):
        if doc in grades:
            return 1.0 / rank
    return 0.0


def passage_id(item: Any, id_key: str | None = None) -> str:
    """The id of one retrieved item (see the module docstring)."""
    if isinstance(item, str):
        if id_key == "title":
            return item.split(" | ", 1)[0]
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    for key in (id_key,) if id_key else _ID_KEYS:
        value = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        if value is not None:
            return str(value)
    raise MetricError(f"cannot find an id ({id_key or ' / '.join(_ID_KEYS)}) on a {type(item).__name__} passage")


class _RankingMetric(Metric):
    label = ""

    def __init__(
        self,
        k: int | None = 10,
        field: FieldSpec = ("passage_ids", "ids", "passages", "context"),
        gold_field: FieldSpec = ("relevance", "gold_ids"),
        id_key: str | None = None,
    ) -> None:
        _check_k(k)
        self.k, self.field, self.gold_field, self.id_key = k, field, gold_field, id_key
        self.name = self.label if k is None else f"{self.label}@{k}"

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        grades = _grades(gold(example, self.gold_field))
        if not grades:
            raise MetricNotApplicable("the example has no relevant documents in its judgements")
        items = predicted(prediction, self.field)
        items = items if isinstance(items, list | tuple) else [items]
        return self.rank_score([passage_id(item, self.id_key) for item in items], grades)

    def rank_score(self, ranked: list[str], grades: dict[str, float]) -> float:
        raise NotImplementedError


class NDCG(_RankingMetric):
    label = "ndcg"

    def rank_score(self, ranked: list[str], grades: dict[str, float]) -> float:
        return ndcg_at_k(ranked, grades, self.k or len(ranked) or 1)


class Recall(_RankingMetric):
    label = "recall"

    def rank_score(self, ranked: list[str], grades: dict[str, float]) -> float:
        return recall_at_k(ranked, grades, self.k or len(ranked) or 1)


class MRR(_RankingMetric):
    label = "mrr"

    def __init__(self, k: int | None = None, **options: Any) -> None:
        super().__init__(k, **options)

    def rank_score(self, ranked: list[str], grades: dict[str, float]) -> float:
        return mrr(ranked, grades, self.k)
