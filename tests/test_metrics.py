"""promptkit.evaluation.metrics: the metric contract, the registry, text metrics, DSPy compatibility."""

from __future__ import annotations

from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from promptkit.errors import InputError
from promptkit.evaluation.metrics import (
    Metric,
    MetricResult,
    get,
    names,
    normalize_answer,
    register,
    resolve,
    token_f1,
)
from promptkit.evaluation.metrics.registry import _factories

REQUIRED = {
    "exact_match", "f1", "passage_match", "numeric_match", "math_equiv", "hops_valid",
    "json_valid", "schema_valid", "contains", "semantic_f1", "ndcg", "recall", "mrr",
}  # fmt: skip


def ex(**fields: Any) -> dspy.Example:
    return dspy.Example(**fields).with_inputs("question") if "question" in fields else dspy.Example(**fields)


def pred(**fields: Any) -> dspy.Prediction:
    return dspy.Prediction(**fields)


@pytest.fixture
def clean_registry() -> Any:
    before = dict(_factories)
    yield
    _factories.clear()
    _factories.update(before)


# --- registry -----------------------------------------------------------------------------------


def test_every_required_metric_is_registered_and_builds() -> None:
    assert set(names()) >= REQUIRED
    for name in REQUIRED:
        metric = get(name)
        assert isinstance(metric, Metric) and metric.name == name


def test_unknown_metric_is_an_input_error_listing_known_names() -> None:
    with pytest.raises(InputError) as caught:
        get("exact_mtach")
    assert isinstance(caught.value, KeyError)  # KeyError-like, so `except KeyError` works too
    message = str(caught.value)
    assert "'exact_mtach'" in message and "exact_match" in message and "ndcg" in message
    assert not message.startswith("'")  # not KeyError's quoted repr


def test_options_are_checked_and_cutoffs_parsed() -> None:
    metric = get("ndcg@5")
    assert metric.name == "ndcg@5" and metric.k == 5  # type: ignore[attr-defined]
    assert get("recall", k=3).k == 3  # type: ignore[attr-defined]
    with pytest.raises(InputError) as caught:
        get("exact_match", feild="response")
    assert "feild" in str(caught.value) and "gold_field" in str(caught.value)
    with pytest.raises(InputError, match="cut-off"):
        get("ndcg@ten")
    with pytest.raises(InputError):
        get("exact_match@3")  # exact_match has no k


def test_register_a_function_and_resolve(clean_registry: Any) -> None:
    def starts_with_gold(example: Any, prediction: Any) -> bool:
        return str(prediction.answer).startswith(example.answer)

    register("starts_with", starts_with_gold)
    assert "starts_with" in names()
    metric = get("starts_with")
    assert metric(ex(answer="Par"), pred(answer="Paris")) is True
    assert metric.score(ex(answer="Rome"), pred(answer="Paris")) == MetricResult(0.0, "ok")
    with pytest.raises(InputError, match="already registered"):
        register("starts_with", starts_with_gold)
    register("starts_with", lambda e, p, trace=None: 0.5, overwrite=True)
    assert get("starts_with")(ex(answer="x"), pred(answer="y")) == 0.5
    assert resolve("exact_match").name == "exact_match"
    assert resolve(starts_with_gold).name == "starts_with_gold"
    with pytest.raises(InputError):
        resolve(42)  # type: ignore[arg-type]


# --- the result contract ------------------------------------------------------------------------


def test_a_failing_metric_is_an_error_status_not_a_zero() -> None:
    def broken(example: Any, prediction: Any) -> float:
        raise RuntimeError("judge crashed")

    result = resolve(broken).score(ex(answer="a"), pred(answer="a"))
    assert result.status == "error" and result.value is None and "RuntimeError: judge crashed" in (result.error or "")
    assert not result.ok and result.to_dict() == {"value": None, "status": "error", "error": result.error}


def test_missing_prediction_field_is_error_and_missing_gold_is_skipped() -> None:
    metric = get("exact_match")
    missing_output = metric.score(ex(answer="Paris"), pred(response="Paris"))
    assert missing_output.status == "error" and "'answer'" in (missing_output.error or "")
    unlabeled = metric.score(ex(question="q"), pred(answer="Paris"))
    assert unlabeled.status == "skipped" and unlabeled.value is None and "gold" in (unlabeled.error or "")
    with pytest.raises(Exception, match="no 'answer' field"):
        metric(ex(answer="Paris"), pred(response="Paris"))  # DSPy's path raises, so Evaluate counts an error


def test_nan_and_non_numbers_are_errors() -> None:
    assert resolve(lambda e, p: float("nan")).score(ex(), pred()).status == "error"
    assert "str" in (resolve(lambda e, p: "high").score(ex(), pred()).error or "")


def test_fields_are_configurable() -> None:
    metric = get("exact_match", field="response", gold_field="reference")
    assert metric(ex(reference="Paris"), pred(response="paris!")) is True
    assert get("exact_match")(ex(answer="Paris"), "Paris") is True  # a bare string prediction is the answer


# --- text metrics -------------------------------------------------------------------------------


def test_squad_normalisation() -> None:
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("“Café” — an  idea") == normalize_answer('"Café" idea')
    assert normalize_answer("A b AN c") == "b c"


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("Paris", "paris", True),
        ("the Paris.", "Paris", True),
        ("Paris, France", "Paris", False),
        ("Madrid", ["Paris", "Madrid"], True),
        ("42", 42, True),
    ],
)
def test_exact_match(prediction: str, gold: Any, expected: bool) -> None:
    assert get("exact_match")(ex(answer=gold), pred(answer=prediction)) is expected


def test_f1_values_and_threshold_while_tracing() -> None:
    assert token_f1("Eiffel Tower is in Paris", "Paris") == pytest.approx(
        2 * (1 / 5) * 1 / (1 / 5 + 1)
    )  # 5 tokens, 1 shared
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0
    f1 = get("f1")
    assert f1(ex(answer=["Paris", "the city of Paris"]), pred(answer="city of Paris")) == 1.0
    assert f1(ex(answer="New York City"), pred(answer="York")) == pytest.approx(0.5)
    strict = get("f1", threshold=0.8)
    assert strict(ex(answer="New York City"), pred(answer="York"), trace=[]) is False
    assert strict(ex(answer="New York City"), pred(answer="York")) == pytest.approx(0.5)


def test_contains() -> None:
    contains = get("contains")
    assert contains(ex(answer="Paris"), pred(answer="I think it is PARIS, France.")) is True
    assert contains(ex(answer="Paris"), pred(answer="Parisian food")) is False  # whole tokens only
    raw = get("contains", normalize=False)
    assert (
        raw(ex(answer="Paris"), pred(answer="Parisian")) is True
        and raw(ex(answer="Paris"), pred(answer="paris")) is False
    )


def test_passage_match_reads_context_or_passages_in_any_shape() -> None:
    metric = get("passage_match")
    gold = ex(answer="Eiffel Tower")
    assert metric(gold, pred(context=["Paris has the Eiffel Tower.", "x"])) is True
    assert metric(gold, pred(context=["Rome has the Colosseum."])) is False
    assert metric(gold, pred(passages=[{"id": "d1", "text": "the eiffel tower!"}])) is True
    assert metric(gold, pred(passages=[dspy.Prediction(long_text="The Eiffel Tower")])) is True
    assert metric.score(gold, pred(context=[object()])).status == "error"


# --- DSPy compatibility -------------------------------------------------------------------------


def test_metrics_work_inside_dspy_evaluate() -> None:
    devset = [ex(question=q, answer=a) for q, a in [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome")]]
    lm = DummyLM({"France": {"answer": "Paris"}, "Spain": {"answer": "madrid."}, "Italy": {"answer": "Milan"}})
    with dspy.context(lm=lm):
        evaluate = dspy.Evaluate(devset=devset, metric=get("exact_match"), num_threads=1, display_progress=False)
        result = evaluate(dspy.Predict("question -> answer"))
    assert result.score == pytest.approx(66.67)
    assert [score for *_, score in result.results] == [True, True, False]


def test_binary_metrics_return_bools_and_graded_ones_floats() -> None:
    assert isinstance(get("exact_match")(ex(answer="a"), pred(answer="a")), bool)
    assert isinstance(get("f1")(ex(answer="a"), pred(answer="a")), float)
    assert isinstance(get("numeric_match")(ex(answer="3"), pred(answer="3"), trace=[]), bool)


def test_metrics_gate_demos_in_bootstrap_fewshot() -> None:
    """BootstrapFewShot keeps only the traced runs the metric accepts (it passes a trace, gets a bool)."""
    trainset = [ex(question="France", answer="Paris"), ex(question="Italy", answer="Rome")]
    lm = DummyLM({"France": {"answer": "Paris"}, "Italy": {"answer": "Milan"}})
    optimizer = dspy.BootstrapFewShot(metric=get("exact_match"), max_bootstrapped_demos=2, max_labeled_demos=0)
    with dspy.context(lm=lm):
        compiled = optimizer.compile(dspy.Predict("question -> answer"), trainset=trainset)
    demos = compiled.predictors()[0].demos
    assert [(demo.question, demo.answer) for demo in demos] == [("France", "Paris")]
