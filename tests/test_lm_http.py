"""promptkit.lm against real HTTP servers on 127.0.0.1: an OpenAI-compatible one and an Ollama-protocol one.

The first call through LiteLLM pays its ~4 s import; everything else is fast.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import warnings
from typing import Any

import dspy
import pytest

from promptkit.config import load_settings
from promptkit.errors import BackendError, BackendUnavailableError
from promptkit.lm import PromptkitLM, lm, ollama_status
from tests.servers import OllamaServer, OpenAICompatServer
from tests.servers.fixtures import ollama_server_fixture, openai_server_fixture, refused_url_fixture  # noqa: F401

pytestmark = pytest.mark.server

ANSWER = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
KEY = "sk-test-0123456789"
NO_ENV = load_settings(environ={})  # these tests must not pick up a developer's PROMPTKIT_* variables


def build(model: str, **kwargs: Any) -> dspy.LM:
    kwargs.setdefault("settings", NO_ENV)
    return lm(model, **kwargs)


def ask(model_lm: dspy.LM, question: str, **config: Any) -> dspy.Prediction:
    with dspy.context(lm=model_lm):
        return dspy.Predict("question -> answer")(question=question, config=config)


# -- OpenAI-compatible server ---------------------------------------------------------------------------
def test_openai_compatible_request_shape(openai_server: OpenAICompatServer) -> None:
    openai_server.reply = ANSWER
    model_lm = build(
        "openai/test-model",
        api_base=f"{openai_server.url}/v1",
        api_key=KEY,
        temperature=0.2,
        max_tokens=64,
        cache=False,
    )
    assert ask(model_lm, "What is the capital of France?").answer == "Paris"
    (request,) = openai_server.chat_requests
    assert request.path == "/v1/chat/completions"
    body = request.body
    assert body["model"] == "test-model"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "What is the capital of France?" in body["messages"][-1]["content"]
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2
    assert request.header("Authorization") == f"Bearer {KEY}"


def test_n_goes_out_in_one_request(openai_server: OpenAICompatServer) -> None:
    openai_server.reply = ANSWER
    model_lm = build("openai/test-model", api_base=f"{openai_server.url}/v1", cache=False)
    result = ask(model_lm, "q", n=2, temperature=0.9)
    assert result.completions.answer == ["Paris", "Paris"]
    assert len(openai_server.chat_requests) == 1 and openai_server.chat_requests[0].body["n"] == 2


def test_json_adapter_sends_response_format(openai_server: OpenAICompatServer) -> None:
    openai_server.reply = lambda body: json.dumps({"answer": "Paris"}) if "response_format" in body else "no format"
    model_lm = build("openai/test-model", api_base=f"{openai_server.url}/v1", cache=False)
    with dspy.context(lm=model_lm, adapter=dspy.JSONAdapter()):
        assert dspy.Predict("question -> answer")(question="q").answer == "Paris"
    assert openai_server.chat_requests[0].body["response_format"]["type"] in ("json_object", "json_schema")


def test_async_call(openai_server: OpenAICompatServer) -> None:
    openai_server.reply = ANSWER
    model_lm = build("openai/test-model", api_base=f"{openai_server.url}/v1", cache=False)

    async def run() -> str:
        with dspy.context(lm=model_lm):
            return str((await dspy.Predict("question -> answer").acall(question="q")).answer)

    assert asyncio.run(run()) == "Paris"


# -- cache namespaced per endpoint ----------------------------------------------------------------------
def test_same_model_on_two_servers_does_not_share_cache() -> None:
    question = f"cache probe {uuid.uuid4()}"  # unique: DSPy's disk cache outlives test runs
    with OpenAICompatServer(reply=ANSWER) as first, OpenAICompatServer(reply=ANSWER) as second:
        lm_first = build("openai/same-name", api_base=f"{first.url}/v1", temperature=0.0)
        lm_second = build("openai/same-name", api_base=f"{second.url}/v1", temperature=0.0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ask(lm_first, question)
            ask(lm_first, question)  # same endpoint: served from cache
            ask(lm_second, question)  # other endpoint: must reach the server
            ask(lm_first, question, rollout_id=7, temperature=1.0)  # caller's rollout_id: still per endpoint
            ask(lm_second, question, rollout_id=7, temperature=1.0)
        assert (len(first.chat_requests), len(second.chat_requests)) == (2, 2)
        assert all("rollout_id" not in r.body for r in first.chat_requests + second.chat_requests)
    assert not [w for w in caught if "rollout_id" in str(w.message)]


def test_cached_answer_needs_no_server() -> None:
    question = f"offline rerun {uuid.uuid4()}"
    qa = dspy.Predict("question -> answer")

    async def ask_async(model_lm: dspy.LM) -> str:
        with dspy.context(lm=model_lm):
            return str((await qa.acall(question=question)).answer)

    with OpenAICompatServer(reply=ANSWER) as server:
        base = f"{server.url}/v1"
        assert ask(build("openai/m", api_base=base), question).answer == "Paris"
        assert asyncio.run(ask_async(build("openai/m", api_base=base))) == "Paris"
    # The server is gone; a fresh LM for the same endpoint still answers the cached calls.
    assert ask(build("openai/m", api_base=base), question).answer == "Paris"
    assert asyncio.run(ask_async(build("openai/m", api_base=base))) == "Paris"
    with pytest.raises(BackendUnavailableError):
        ask(build("openai/m", api_base=base), question + " (not cached)")


# -- Ollama protocol ----------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_ollama_chat_request_shape(ollama_server: OllamaServer, suffix: str) -> None:
    ollama_server.reply = ANSWER
    model_lm = build("ollama_chat/qwen2.5:0.5b", api_base=ollama_server.url + suffix, cache=False, max_tokens=50)
    assert ask(model_lm, "Capital of France?").answer == "Paris"
    assert ask(model_lm, "Capital of France, again?").answer == "Paris"
    chats = ollama_server.chat_requests
    assert len(chats) == 2
    body = chats[0].body
    assert body["model"] == "qwen2.5:0.5b" and body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Capital of France?" in body["messages"][-1]["content"]
    assert body["options"]["num_predict"] == 50
    assert len(ollama_server.requests_to("/api/tags")) == 1  # preflight once per LM
    assert chats[0].header("Authorization") is None


def test_ollama_generate_route(ollama_server: OllamaServer) -> None:
    ollama_server.reply = ANSWER
    model_lm = build("ollama/qwen2.5:0.5b", api_base=ollama_server.url, cache=False)
    assert ask(model_lm, "Capital of France?").answer == "Paris"
    (request,) = ollama_server.requests_to("/api/generate")
    assert request.body["model"] == "qwen2.5:0.5b" and "Capital of France?" in request.body["prompt"]


def test_ollama_on_the_native_engine(ollama_server: OllamaServer) -> None:
    ollama_server.reply = ANSWER
    model_lm = build("ollama_chat/qwen2.5:0.5b", api_base=ollama_server.url, engine="auto", cache=False)
    assert ask(model_lm, "q").answer == "Paris"
    (request,) = ollama_server.requests_to("/v1/chat/completions")
    assert request.body["model"] == "qwen2.5:0.5b"
    assert "api_key" not in model_lm.kwargs  # DSPy's native engine refuses api_key=""


def test_ollama_model_not_pulled(ollama_server: OllamaServer) -> None:
    ollama_server.models = ("llama3.2:latest",)
    model_lm = build("ollama_chat/qwen2.5:0.5b", api_base=ollama_server.url, cache=False)
    with pytest.raises(BackendUnavailableError) as info:
        ask(model_lm, "q")
    assert "ollama pull qwen2.5:0.5b" in str(info.value) and "llama3.2:latest" in str(info.value)
    assert info.value.url == ollama_server.url
    assert not ollama_server.chat_requests  # reported by the preflight, before any generation request


def test_ollama_model_removed_after_preflight(ollama_server: OllamaServer) -> None:
    ollama_server.reply = ANSWER
    model_lm = build("ollama_chat/qwen2.5:0.5b", api_base=ollama_server.url, cache=False)
    ask(model_lm, "first")
    ollama_server.models = ()  # `ollama rm` while we run: the call itself gets Ollama's 404
    with pytest.raises(BackendUnavailableError, match=r"ollama pull qwen2\.5:0\.5b"):
        ask(model_lm, "second")


def test_untagged_model_name_matches_latest(ollama_server: OllamaServer) -> None:
    ollama_server.models = ("llama3.2:latest",)
    ollama_server.reply = ANSWER
    assert ask(build("ollama_chat/llama3.2", api_base=ollama_server.url, cache=False), "q").answer == "Paris"


def test_ollama_not_running(refused_url: str) -> None:
    model_lm = build("ollama_chat/qwen2.5:0.5b", api_base=refused_url)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        ask(model_lm, "q")
    assert time.monotonic() - started < 10
    assert refused_url in str(info.value) and "ollama serve" in str(info.value)


def test_ollama_status(ollama_server: OllamaServer, openai_server: OpenAICompatServer, refused_url: str) -> None:
    up = ollama_status(ollama_server.url + "/v1")
    assert up == {"reachable": True, "url": ollama_server.url, "models": ["qwen2.5:0.5b"], "error": None}
    down = ollama_status(refused_url)
    assert down["reachable"] is False and down["models"] == [] and "refused" in down["error"]
    other = ollama_status(openai_server.url)  # answers, but not like Ollama
    assert other["reachable"] is True and "404" in other["error"]


# -- failures -----------------------------------------------------------------------------------------
def test_connection_refused_names_the_url_quickly(refused_url: str) -> None:
    model_lm = build("openai/test-model", api_base=f"{refused_url}/v1", api_key=KEY)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        ask(model_lm, "q")
    assert time.monotonic() - started < 10
    assert f"{refused_url}/v1" in str(info.value) and info.value.url == f"{refused_url}/v1"
    assert KEY not in str(info.value)
    with pytest.raises(BackendUnavailableError):
        asyncio.run(model_lm.acall("q"))


def test_server_that_dies_after_first_use_is_reported_after_retries() -> None:
    with OpenAICompatServer(reply=ANSWER) as server:
        url = server.url
        model_lm = build("openai/test-model", api_base=f"{url}/v1", cache=False, num_retries=1)
        ask(model_lm, "q")  # preflight passes and is remembered
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        ask(model_lm, "q")
    assert time.monotonic() - started < 10
    assert url in str(info.value) and info.value.__cause__ is not None  # DSPy's error, after its retries


def test_unresolvable_host_is_unavailable() -> None:
    model_lm = build("openai/test-model", api_base="http://promptkit-test-host.invalid/v1")
    with pytest.raises(BackendUnavailableError, match="resolve"):
        ask(model_lm, "q")


def test_rejected_key_is_a_backend_error_without_the_key(openai_server: OpenAICompatServer) -> None:
    openai_server.fail_next = [(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "auth"}})]
    model_lm = build("openai/test-model", api_base=f"{openai_server.url}/v1", api_key=KEY, cache=False)
    with pytest.raises(BackendError) as info:
        ask(model_lm, "q")
    assert KEY not in str(info.value) and "PROMPTKIT_API_KEY" in str(info.value)


def test_slow_server_times_out_within_the_configured_limit(openai_server: OpenAICompatServer) -> None:
    def slow_when_asked(body: dict[str, Any]) -> str:
        if "take your time" in json.dumps(body):
            time.sleep(3)
        return ANSWER

    openai_server.reply = slow_when_asked
    model_lm = build("openai/test-model", api_base=f"{openai_server.url}/v1", timeout=0.5, num_retries=0, cache=False)
    assert isinstance(model_lm, PromptkitLM)
    ask(model_lm, "warm up")  # not timed: the first call may pay LiteLLM's import
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="did not answer"):
        ask(model_lm, "take your time")
    assert time.monotonic() - started < 3
