"""A chain against a real OpenAI-compatible HTTP server on 127.0.0.1: what goes over the wire."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from promptkit.chains import Chain, Step
from promptkit.lm import lm
from tests.servers import OpenAICompatServer

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("memory_only_cache")]

SCHEMA = {"type": "object", "additionalProperties": {"type": "string"}}


def reply(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    return '{"slow": "reliability"}' if last.startswith("Categorize") else "slow; pricey"


@pytest.mark.parametrize(
    ("mode", "expected_format"),
    [
        (
            "json_schema",
            {
                "type": "json_schema",
                "json_schema": {"name": "promptkit_step_output", "schema": SCHEMA, "strict": False},
            },
        ),
        ("json_object_schema", {"type": "json_object", "schema": SCHEMA}),  # llama-cpp-python's dialect
    ],
)
def test_chain_requests_over_http(mode: str, expected_format: dict[str, Any]) -> None:
    chain = Chain(
        [
            Step(
                name="extract",
                prompt='{% message "system" %}Be brief.{% endmessage %}'
                '{% message "user" %}List problems: {{ text }}{% endmessage %}',
                output="list",
            ),
            Step(
                name="classify",
                prompt="Categorize {{ extract | join(', ') }}",
                output="json",
                schema=SCHEMA,
                temperature=0.3,
            ),
        ],
        inputs=["text"],
    )
    with OpenAICompatServer(reply=reply) as server:
        model = lm("openai/test-model", api_base=f"{server.url}/v1", api_key="sk-test", cache=False)
        model.structured_output = mode  # as promptkit's factory states it for a schema-enforcing server
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            result = chain.run(model, text="it is slow and pricey")
        first, second = (request.body for request in server.chat_requests)
        keys = [request.header("Authorization") for request in server.chat_requests]

    assert result.output == {"slow": "reliability"}
    assert result["extract"].output == ["slow", "pricey"]
    assert first["model"] == "test-model"
    assert first["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "List problems: it is slow and pricey"},
    ]
    assert "response_format" not in first
    assert second["messages"] == [{"role": "user", "content": "Categorize slow, pricey"}]
    assert second["response_format"] == expected_format and second["temperature"] == 0.3
    assert keys == ["Bearer sk-test", "Bearer sk-test"]
    # the server's reported usage lands in the step results
    assert result["extract"].prompt_tokens == 7 and result["extract"].completion_tokens == 2
    assert "sk-test" not in json.dumps(result.to_dict())
