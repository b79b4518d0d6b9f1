"""Structured output per route: the adapter's JSON schema reaches each kind of server as it expects."""

from __future__ import annotations

import dspy
import pytest

import promptkit
from promptkit.adapter import TemplateAdapter
from promptkit.errors import ConfigError
from tests.servers.ollama_protocol import OllamaServer
from tests.servers.openai_compat import OpenAICompatServer


def test_route_defaults() -> None:
    assert promptkit.lm("ollama_chat/qwen2.5:0.5b").structured_output == "json_schema"
    assert promptkit.lm("openai/x", api_base="http://127.0.0.1:9/v1").structured_output == "none"
    assert promptkit.lm("openai/gpt-4o-mini", api_key="sk-x").structured_output is None  # DSPy decides
    pinned = promptkit.lm("openai/x", api_base="http://127.0.0.1:9/v1", structured_output="json_object_schema")
    assert pinned.structured_output == "json_object_schema"
    assert pinned.copy(temperature=0.5).structured_output == "json_object_schema"
    with pytest.raises(ConfigError, match="structured_output"):
        promptkit.lm("openai/x", structured_output="xml")


@pytest.mark.server
def test_ollama_gets_the_schema_as_format() -> None:
    with OllamaServer(reply='{"reasoning": "2 and 2", "answer": 4}') as server:
        lm = promptkit.lm("ollama_chat/qwen2.5:0.5b", api_base=server.url)
        with dspy.context(lm=lm, adapter=TemplateAdapter()):
            prediction = dspy.ChainOfThought("question -> answer: int")(question="2+2?")
        assert prediction.answer == 4
        body = server.chat_requests[-1].body
        assert body["format"]["required"] == ["reasoning", "answer"]
        assert body["format"]["properties"]["answer"]["type"] == "integer"


@pytest.mark.server
def test_llamacpp_dialect_reaches_an_openai_compatible_server() -> None:
    with OpenAICompatServer(reply='{"answer": "Paris"}') as server:
        lm = promptkit.lm(
            "openai/smollm2", api_base=f"{server.url}/v1", api_key="x", structured_output="json_object_schema"
        )
        with dspy.context(lm=lm, adapter=TemplateAdapter()):
            assert dspy.Predict("question -> answer")(question="Capital of France?").answer == "Paris"
        fmt = server.requests_to("/v1/chat/completions")[-1].body["response_format"]
        assert fmt["type"] == "json_object" and fmt["schema"]["required"] == ["answer"]


@pytest.mark.server
def test_unknown_server_gets_markers_and_no_response_format() -> None:
    with OpenAICompatServer(reply="[[ ## answer ## ]]\nParis\n[[ ## completed ## ]]") as server:
        lm = promptkit.lm("openai/x", api_base=f"{server.url}/v1", api_key="x")
        with dspy.context(lm=lm, adapter=TemplateAdapter()):
            assert dspy.Predict("question -> answer")(question="q").answer == "Paris"
        assert "response_format" not in server.requests_to("/v1/chat/completions")[-1].body
