"""Length budgets per output field: derived from max_tokens, enforced by the schema on grammar routes,
stated in the prompt everywhere, overridable per field and per adapter."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import dspy
import pytest

from promptkit.adapter import TemplateAdapter
from promptkit.adapter.budgets import CHARS_PER_TOKEN, SHORT_CAP, field_budgets, with_budgets
from promptkit.lm import FakeLM


def call(
    program: Any,
    *,
    max_tokens: int | None = 512,
    structured: str | None = "json_schema",
    adapter: Any = None,
    answer: dict[str, Any] | None = None,
    **inputs: Any,
) -> Any:
    fake = FakeLM([answer or {"reasoning": "r", "answer": "a"}], max_tokens=max_tokens)
    if structured is not None:
        fake.structured_output = structured  # type: ignore[attr-defined]
    with dspy.context(lm=fake, adapter=adapter or TemplateAdapter()):
        program(**inputs)
    return fake.calls[0]


def properties(call_: Any) -> dict[str, Any]:
    fmt = call_.config["response_format"]
    schema = fmt["json_schema"]["schema"] if fmt["type"] == "json_schema" else fmt["schema"]
    return schema["properties"]


def test_thinking_fields_get_the_bulk_and_the_whole_object_fits_max_tokens() -> None:
    signature = dspy.ChainOfThought("question -> answer").predict.signature
    budgets = field_budgets(signature, 512)
    assert budgets["answer"] == SHORT_CAP and budgets["reasoning"] > 3 * SHORT_CAP
    assert sum(budgets.values()) <= 512 * CHARS_PER_TOKEN  # at the conservative rate, it closes in time
    small = field_budgets(signature, 64)
    assert sum(small.values()) <= 64 * CHARS_PER_TOKEN and small["reasoning"] >= small["answer"]


def test_the_schema_on_a_grammar_route_carries_the_budgets() -> None:
    props = properties(call(dspy.ChainOfThought("question -> answer"), question="q"))
    assert props["answer"]["maxLength"] == SHORT_CAP and props["answer"]["minLength"] == 1
    assert props["reasoning"]["maxLength"] > props["answer"]["maxLength"]


def test_a_llama_cpp_server_gets_the_same_budgets() -> None:
    server = SimpleNamespace(structured_output="json_object_schema", kwargs={"max_tokens": 512})
    kwargs: dict[str, Any] = {}
    TemplateAdapter()._choose_mode(server, kwargs, dspy.ChainOfThought("question -> answer").predict.signature)
    assert kwargs["response_format"]["type"] == "json_object"
    assert kwargs["response_format"]["schema"]["properties"]["answer"]["maxLength"] == SHORT_CAP


def test_the_embedded_model_gets_the_budgets_in_its_schema() -> None:
    from promptkit.lm.local import local_lm

    lm = local_lm(max_tokens=512, cache=False)  # the model is loaded on the first call, not here
    kwargs: dict[str, Any] = {}
    TemplateAdapter()._choose_mode(lm, kwargs, dspy.ChainOfThought("question -> answer").predict.signature)
    props = kwargs["response_format"]["json_schema"]["schema"]["properties"]
    assert props["answer"]["maxLength"] == SHORT_CAP and props["reasoning"]["maxLength"] > SHORT_CAP


def test_the_prompt_states_the_budgets_where_no_schema_is_enforced() -> None:
    sent = call(
        dspy.ChainOfThought("question -> answer"),
        structured="none",
        answer={"reasoning": "r", "answer": "a"},
        question="q",
    )
    assert "response_format" not in sent.config
    assert f"`answer` (str) (at most {SHORT_CAP} characters)" in sent.messages[0]["content"]


def test_no_token_limit_means_no_budgets() -> None:
    sent = call(dspy.ChainOfThought("question -> answer"), max_tokens=None, question="q")
    assert "maxLength" not in properties(sent)["answer"] and "at most" not in sent.messages[0]["content"]


def test_overrides_per_field_and_per_adapter_and_off() -> None:
    class Query(dspy.Signature):
        question: str = dspy.InputField()
        reasoning: str = dspy.OutputField()
        query: str = dspy.OutputField(max_length=80)

    props = properties(call(dspy.Predict(Query), answer={"reasoning": "r", "query": "q"}, question="q"))
    assert props["query"]["maxLength"] == 80
    mine = TemplateAdapter(field_budgets={"reasoning": 500})
    props = properties(call(dspy.Predict(Query), adapter=mine, answer={"reasoning": "r", "query": "q"}, question="q"))
    assert props["reasoning"]["maxLength"] == 500 and props["query"]["maxLength"] == 80
    off = TemplateAdapter(field_budgets=False)
    props = properties(call(dspy.Predict(Query), adapter=off, answer={"reasoning": "r", "query": "q"}, question="q"))
    assert "maxLength" not in props["reasoning"]


def test_a_schema_bound_of_its_own_is_kept() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}, "b": {"type": "integer"}}}
    bounded = with_budgets(schema, {"a": 100, "b": 100})
    assert bounded["properties"] == schema["properties"]


@pytest.mark.local
def test_the_embedded_model_closes_a_long_reasoning_within_its_budget() -> None:
    import promptkit

    lm = promptkit.lm("local", max_tokens=96, cache=False)
    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        prediction = dspy.ChainOfThought("question -> answer")(
            question="Explain in great detail, step by step, why the sky is blue, and then say which colour it is."
        )
    budgets = field_budgets(dspy.ChainOfThought("question -> answer").predict.signature, 96)
    assert prediction.answer and len(prediction.reasoning) <= budgets["reasoning"]
    assert lm.history[-1]["usage"]["completion_tokens"] < 96  # the object closed before the limit


@pytest.mark.server
def test_the_budgets_reach_a_llama_cpp_server_in_the_request_body() -> None:
    import promptkit
    from tests.servers.openai_compat import OpenAICompatServer

    with OpenAICompatServer(reply='{"reasoning": "It is the capital.", "answer": "Paris"}') as server:
        lm = promptkit.lm(
            "openai/smollm2",
            api_base=f"{server.url}/v1",
            api_key="x",
            structured_output="json_object_schema",
            max_tokens=256,
        )
        with dspy.context(lm=lm, adapter=TemplateAdapter()):
            assert dspy.ChainOfThought("question -> answer")(question="Capital of France?").answer == "Paris"
        body = server.chat_requests[-1].body
    signature = dspy.ChainOfThought("question -> answer").predict.signature
    expected = field_budgets(signature, 256)
    props = body["response_format"]["schema"]["properties"]
    assert {name: props[name]["maxLength"] for name in expected} == expected and body["max_tokens"] == 256
