"""A technique and a chain on the embedded GGUF behind llama.cpp's OpenAI-compatible server.

Everything goes through promptkit's own path: ``promptkit.lm("openai/...", api_base=...,
structured_output="json_object_schema")`` (LiteLLM's real HTTP path) and the TemplateAdapter, which
sends the output schema in llama-cpp-python's dialect.
"""

from __future__ import annotations

import dspy
import pytest

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")


import promptkit
from promptkit.adapter import TemplateAdapter
from promptkit.chains import Chain, Step
from tests.servers.llamacpp import LlamaCppServer

pytestmark = [pytest.mark.local, pytest.mark.server, pytest.mark.slow, pytest.mark.usefixtures("memory_only_cache")]


@pytest.fixture(scope="module")
def server(llamacpp_server: LlamaCppServer) -> LlamaCppServer:
    return llamacpp_server


@pytest.fixture
def server_lm(server: LlamaCppServer) -> dspy.LM:
    return promptkit.lm(
        "openai/smollm2",
        api_base=server.api_base,
        api_key="x",
        max_tokens=96,
        num_retries=0,
        structured_output="json_object_schema",
    )


def test_a_technique_through_the_server(server_lm: dspy.LM) -> None:
    program = promptkit.techniques.build("cot_zeroshot", "question -> answer")
    with dspy.context(lm=server_lm, adapter=TemplateAdapter()):
        prediction = program(question="How many legs does a cat have?")
    assert isinstance(prediction.answer, str) and prediction.answer.strip()
    sent = server_lm.history[-1]["kwargs"]["response_format"]
    assert sent["type"] == "json_object" and "answer" in sent["schema"]["properties"]
    assert "Let's think step by step" in server_lm.history[-1]["messages"][0]["content"]


def test_a_chain_through_the_server_stops_at_max_tokens(server_lm: dspy.LM) -> None:
    schema = {
        "type": "object",
        "properties": {"topic": {"type": "string"}, "sentiment": {"type": "string", "enum": ["positive", "negative"]}},
        "required": ["topic", "sentiment"],
        "additionalProperties": False,
    }
    chain = Chain(
        [
            Step(
                name="summary",
                prompt="Count from 1 to 300, separated by commas, then summarize: {{ review }}",
                max_tokens=12,
            ),
            Step(name="label", prompt="Label this summary: {{ summary }}", output="json", schema=schema),
        ],
        inputs=["review"],
    )
    result = chain.run(lm=server_lm, review="The battery died after two days and support never answered.")
    # max_tokens reached the server: it ignores max_completion_tokens and would count on to 300
    assert result["summary"].completion_tokens <= 12
    label = result["label"].output
    assert set(label) == {"topic", "sentiment"} and label["sentiment"] in {"positive", "negative"}
