"""Metrics for evaluation and compilation (``promptkit.metrics``).

Every metric is DSPy-compatible, ``metric(example, prediction, trace=None) -> float | bool``, and
has ``metric.score(example, prediction) -> MetricResult(value, status, error)`` for promptkit's
runner, where a failure is a status ("error" / "skipped"), never a silent 0.

    from promptkit.evaluation.metrics import get
    em = get("exact_match")                      # reads prediction.answer vs example.answer
    ndcg = get("ndcg@10")                        # prediction.passage_ids vs example.relevance
    judge = get("semantic_f1", lm=my_lm)         # LLM-as-judge

Built-ins: exact_match, f1, contains, passage_match, numeric_match, math_equiv, hops_valid,
json_valid, schema_valid, semantic_f1, ndcg, recall, mrr. Each reads configurable fields
(``field=`` on the prediction, ``gold_field=`` on the example).
"""

from .base import FunctionMetric, Metric, MetricError, MetricNotApplicable, MetricResult, Status
from .math_answers import answers_equivalent, normalize_latex
from .numeric import extract_number
from .registry import UnknownMetricError, get, names, register, register_factory, resolve
from .retrieval import mrr, ndcg_at_k, recall_at_k
from .text import normalize_answer, token_f1

__all__ = [
    "FunctionMetric",
    "Metric",
    "MetricError",
    "MetricNotApplicable",
    "MetricResult",
    "Status",
    "UnknownMetricError",
    "answers_equivalent",
    "extract_number",
    "get",
    "mrr",
    "names",
    "ndcg_at_k",
    "normalize_answer",
    "normalize_latex",
    "recall_at_k",
    "register",
    "register_factory",
    "resolve",
    "token_f1",
]
