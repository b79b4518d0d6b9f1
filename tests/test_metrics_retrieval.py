"""Retrieval metrics (nDCG, recall, MRR), the seed's hop check, JSON/schema validity, and the LLM judge."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from promptkit.datasets import load
from promptkit.errors import InputError
from promptkit.evaluation.metrics import get, mrr, ndcg_at_k, recall_at_k

FIXTURES = Path(__file__).parent / "fixtures" / "data"


# --- retrieval ----------------------------------------------------------------------------------


def test_ndcg_by_hand() -> None:
    relevance = {"d1": 2, "d3": 1, "d7": 0}
    dcg = 1 / math.log2(2) + 0 + 2 / math.log2(4)  # d3 at rank 1, d9 miss, d1 at rank 3
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["d3", "d9", "d1"], relevance, k=3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["d1", "d3"], relevance, k=10) == pytest.approx(1.0)
    assert ndcg_at_k(["d9", "d8"], relevance, k=2) == 0.0
    assert ndcg_at_k(["d3", "d3", "d1"], relevance, k=3) == pytest.approx(ndcg_at_k(["d3", "d1"], relevance, k=3))


def test_recall_and_mrr_by_hand() -> None:
    relevance = ["d1", "d3"]  # a list means grade 1 each
    assert recall_at_k(["d3", "d9", "d1"], relevance, k=2) == 0.5
    assert recall_at_k(["d3", "d9", "d1"], relevance, k=3) == 1.0
    assert mrr(["d9", "d1"], relevance) == 0.5
    assert mrr(["d9", "d1"], relevance, k=1) == 0.0
    assert mrr(["d9"], relevance) == 0.0
    with pytest.raises(ValueError, match="no relevant"):
        recall_at_k(["d1"], {"d1": 0}, k=1)
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(["d1"], relevance, k=0)


def test_retrieval_metrics_on_a_beir_dataset() -> None:
    q1, q2 = load(FIXTURES / "beir_mini")  # q1: d1 (2), d3 (1); q2: d2, d4
    ndcg, recall, reciprocal = get("ndcg@10"), get("recall@1"), get("mrr")
    perfect = dspy.Prediction(passage_ids=["d1", "d3", "d5"])
    assert ndcg(q1, perfect) == pytest.approx(1.0) and recall(q1, perfect) == 0.5 and reciprocal(q1, perfect) == 1.0
    passages = dspy.Prediction(passages=[{"id": "d5", "text": "..."}, {"id": "d4", "text": "..."}])
    assert reciprocal(q2, passages) == 0.5 and recall(q2, passages) == 0.0
    assert get("recall@2")(q2, passages) == 0.5
    assert ndcg.name == "ndcg@10" and recall.name == "recall@1"


def test_retrieval_metric_statuses_and_ids_from_titles() -> None:
    ndcg = get("ndcg@2", id_key="title")
    example = dspy.Example(gold_ids=["Paris"])
    prediction = dspy.Prediction(context=["Paris | Paris is the capital.", "Rome | Rome is old."])
    assert ndcg(example, prediction) == pytest.approx(1.0)
    assert ndcg.score(dspy.Example(question="unjudged"), prediction).status == "skipped"
    assert ndcg.score(dspy.Example(relevance={"d1": 0}), prediction).status == "skipped"
    assert get("ndcg").score(example, dspy.Prediction(passages=[{"text": "no id"}])).status == "error"
    with pytest.raises(InputError):
        get("ndcg@0")


# --- hops_valid ---------------------------------------------------------------------------------

QUESTION = "Which river flows through the city where the Glass Museum stands?"


def hops(queries: Any) -> float | bool:
    return get("hops_valid")(dspy.Example(question=QUESTION), dspy.Prediction(queries=queries))


def test_hops_valid_accepts_short_distinct_queries() -> None:
    assert hops(["Glass Museum location", "river through Lumen City"]) is True
    assert hops([QUESTION, "river through Lumen City"]) is True  # the first hop may echo the question (seed)


def test_hops_valid_rejects_long_or_repeated_queries() -> None:
    assert hops(["x" * 101]) is False
    assert hops(["x" * 100]) is True
    assert hops(["Lumen City river", "the Lumen City river"]) is False  # F1 1.0 after normalisation
    assert hops(["Glass Museum location", QUESTION]) is False  # repeats the question


def test_hops_valid_reads_queries_from_a_dspy_trace() -> None:
    metric = get("hops_valid")
    example = dspy.Example(question=QUESTION)
    step = dspy.Predict("question -> query")
    good: list[tuple[Any, dict[str, Any], dspy.Prediction]] = [
        (step, {}, dspy.Prediction(query="Glass Museum city")),
        (step, {}, dspy.Prediction(answer="x")),
    ]
    repeated: list[tuple[Any, dict[str, Any], dspy.Prediction]] = [
        (step, {}, dspy.Prediction(query="Glass Museum city"))
    ] * 2
    assert metric(example, dspy.Prediction(answer="x"), trace=good) is True
    assert metric(example, dspy.Prediction(answer="x"), trace=repeated) is False
    assert metric(example, dspy.Prediction(answer="x"), trace=[]) is True  # no hops traced: nothing to reject
    assert metric.score(example, dspy.Prediction(answer="x")).status == "error"  # untraced and no queries


# --- json_valid / schema_valid ------------------------------------------------------------------

SCHEMA = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


def json_score(name: str, answer: Any, **options: Any) -> float | None:
    return get(name, **options).score(dspy.Example(), dspy.Prediction(answer=answer)).value


def test_json_valid() -> None:
    assert json_score("json_valid", '{"a": [1, 2]}') == 1.0
    assert json_score("json_valid", "{a: 1}") == 0.0
    assert json_score("json_valid", {"a": 1}) == 1.0
    fenced = '```json\n{"a": 1}\n```'
    assert json_score("json_valid", fenced) == 0.0
    assert json_score("json_valid", fenced, strip_fences=True) == 1.0


def test_schema_valid_with_a_fixed_schema(tmp_path: Path) -> None:
    assert json_score("schema_valid", '{"name": "Ada"}', schema=SCHEMA) == 1.0
    assert json_score("schema_valid", '{"name": 3}', schema=SCHEMA) == 0.0
    assert json_score("schema_valid", "not json", schema=SCHEMA) == 0.0
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    assert json_score("schema_valid", "{}", schema=str(path)) == 0.0
    assert json_score("schema_valid", '{"name": "x"}', schema=json.dumps(SCHEMA)) == 1.0
    with pytest.raises(InputError, match="invalid JSON Schema"):
        get("schema_valid", schema={"type": "no-such-type"})


def test_schema_valid_with_the_example_schema() -> None:
    metric = get("schema_valid")
    assert metric.score(dspy.Example(schema=SCHEMA), dspy.Prediction(answer='{"name": "x"}')).value == 1.0
    assert metric.score(dspy.Example(), dspy.Prediction(answer="{}")).status == "skipped"
    broken = metric.score(dspy.Example(schema={"type": 5}), dspy.Prediction(answer="{}"))
    assert broken.status == "error" and "invalid" in (broken.error or "")


# --- semantic_f1 (LLM judge) --------------------------------------------------------------------


def judge_lm(recall: str, precision: str) -> DummyLM:
    return DummyLM([{"reasoning": "compared key ideas", "recall": recall, "precision": precision}] * 4)


def test_semantic_f1_uses_the_judge_lm() -> None:
    lm = judge_lm("0.5", "1.0")
    metric = get("semantic_f1", lm=lm)
    example = dspy.Example(question="What is the capital of France?", answer="Paris")
    result = metric.score(example, dspy.Prediction(answer="It is Paris."))
    assert result.status == "ok" and result.value == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    prompt = lm.history[-1]["messages"][-1]["content"]
    assert "It is Paris." in prompt and "What is the capital of France?" in prompt and "Paris" in prompt
    assert metric(example, dspy.Prediction(answer="It is Paris."), trace=[]) is True  # 0.667 >= 0.66


def test_semantic_f1_threshold_and_failures_are_statuses() -> None:
    example = dspy.Example(question="q?", answer="a")
    low = get("semantic_f1", lm=judge_lm("0.2", "0.2"), threshold=0.5)
    assert low(example, dspy.Prediction(answer="b"), trace=[]) is False
    with dspy.context(lm=None):  # whatever another test configured globally
        no_lm = get("semantic_f1").score(example, dspy.Prediction(answer="b"))
    assert no_lm.status == "error" and "no LM is configured" in (no_lm.error or "")
    unparseable = get("semantic_f1", lm=judge_lm("lots", "1.0")).score(example, dspy.Prediction(answer="b"))
    assert unparseable.status == "error" and unparseable.value is None
