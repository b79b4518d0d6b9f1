"""The embedded GGUF behind llama.cpp's OpenAI-compatible server, driven through LiteLLM's real HTTP path.

Structured output to this server must use llama-cpp-python's dialect,
``response_format={"type": "json_object", "schema": {...}}``: the OpenAI-style ``json_schema`` form
is answered with HTTP 500 (its request model only knows "text" and "json_object").
"""

from __future__ import annotations

import json
from typing import Literal

import dspy
import pytest

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")

from dspy.utils.exceptions import LMServerError

import promptkit.lm
from tests.servers.llamacpp import LlamaCppServer, LlamaCppServerJSONAdapter

pytestmark = [pytest.mark.local, pytest.mark.server, pytest.mark.usefixtures("memory_only_cache")]


@pytest.fixture(scope="module")
def server(llamacpp_server: LlamaCppServer) -> LlamaCppServer:
    return llamacpp_server


@pytest.fixture
def server_lm(server: LlamaCppServer) -> dspy.LM:
    return promptkit.lm.lm("openai/smollm2", api_base=server.api_base, api_key="x", max_tokens=128, num_retries=0)


def test_server_starts_fast_and_answers_through_litellm(server: LlamaCppServer, server_lm: dspy.LM) -> None:
    assert server.startup_seconds < 30
    assert server_lm.engine == "litellm"  # the native engine sends max_completion_tokens, which this server ignores
    [reply] = server_lm("Say hello.", max_tokens=16)
    assert isinstance(reply, str) and reply.strip()
    usage = server_lm.history[-1]["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 16


def test_predict_and_chain_of_thought_parse_through_the_server(server_lm: dspy.LM) -> None:
    with dspy.context(lm=server_lm, adapter=LlamaCppServerJSONAdapter()):
        predicted = dspy.Predict("question -> answer")(question="What is the colour of grass?")
        reasoned = dspy.ChainOfThought("question -> answer")(question="How many legs does a dog have?")
    assert isinstance(predicted.answer, str)
    assert isinstance(reasoned.reasoning, str) and isinstance(reasoned.answer, str)
    sent = server_lm.history[-1]["kwargs"]["response_format"]
    assert sent["type"] == "json_object" and list(sent["schema"]["properties"]) == ["reasoning", "answer"]


def test_typed_output_is_constrained_by_the_schema(server_lm: dspy.LM) -> None:
    class Sentiment(dspy.Signature):
        text: str = dspy.InputField()
        sentiment: Literal["positive", "negative"] = dspy.OutputField()
        stars: int = dspy.OutputField()

    with dspy.context(lm=server_lm, adapter=LlamaCppServerJSONAdapter()):
        result = dspy.Predict(Sentiment)(text="A lovely, warm and funny film.")
    assert result.sentiment in {"positive", "negative"} and isinstance(result.stars, int)


def test_raw_json_object_schema_response_format(server_lm: dspy.LM) -> None:
    schema = {"type": "object", "properties": {"colour": {"enum": ["red", "green", "blue"]}}, "required": ["colour"]}
    [reply] = server_lm("Pick a colour.", response_format={"type": "json_object", "schema": schema})
    assert json.loads(reply)["colour"] in {"red", "green", "blue"}


def test_openai_json_schema_response_format_is_rejected_by_this_server(server_lm: dspy.LM) -> None:
    """A documented limit of llama-cpp-python 0.3.36's server, kept as a canary: if it starts to pass,
    the adapter could send the OpenAI form to llama.cpp servers too."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    openai_style = {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}
    with pytest.raises(LMServerError, match="Input should be 'text' or 'json_object'"):
        server_lm("Say something.", response_format=openai_style)


def test_self_consistency_gets_n_samples_though_the_server_ignores_n(server: LlamaCppServer) -> None:
    """LiteLLM lists ``n`` for OpenAI routes, and this server answers an n=3 request with one choice:
    the technique requests the missing samples one by one instead of voting over one."""
    from promptkit.adapter import TemplateAdapter
    from promptkit.techniques import build
    from promptkit.techniques.ensembling import supports_n

    lm = promptkit.lm.lm(
        "openai/smollm2",
        api_base=server.api_base,
        api_key="x",
        max_tokens=256,
        num_retries=0,
        structured_output="json_object_schema",
    )
    assert supports_n(lm)
    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        prediction = build("self_consistency", n=3, temperature=0.8)(question="Name a primary colour.")
    assert len(prediction.samples) + len(prediction.failed_samples) == 3
    assert all(sample.answer for sample in prediction.samples)  # the schema sent forbids empty outputs
    sent = lm.history[0]["kwargs"]["response_format"]["schema"]["properties"]
    assert sent["answer"]["minLength"] == sent["reasoning"]["minLength"] == 1
    assert [len(entry["outputs"]) for entry in lm.history] == [1, 1, 1]  # one choice for n=3, then two single requests
    assert lm.history[0]["kwargs"].get("n") == 3 and all("n" not in e["kwargs"] for e in lm.history[1:])
