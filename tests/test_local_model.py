"""Integration tests with the real embedded model (SmolLM2-135M-Instruct through llama.cpp).

SmolLM2-135M is a plumbing model: these tests assert structure, types, token accounting and
thread safety, never factual content. Generations are short (max_tokens small).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import dspy
import pytest

pytest.importorskip("llama_cpp")

from dspy.lm15 import Config as RequestConfig
from dspy.lm15 import Message, Request
from dspy.utils.exceptions import ContextWindowExceededError

from promptkit.errors import ConfigError
from promptkit.lm import local_models
from promptkit.lm.local import LoadEvent, local_lm, set_load_listener
from promptkit.lm.local_engine import LlamaCppEngine

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("memory_only_cache")]


@pytest.fixture(scope="module")
def lm() -> Iterator[dspy.LM]:
    built = local_lm(max_tokens=256)
    yield built
    built.engine.close()


@pytest.fixture
def engine(lm: dspy.LM) -> LlamaCppEngine:
    assert isinstance(lm.engine, LlamaCppEngine)
    return lm.engine


def test_corrupt_gguf_is_a_config_error_naming_the_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00 definitely not a model")
    bad = local_lm(broken, cache=False)
    with pytest.raises(ConfigError, match=r"broken\.gguf.*not a valid GGUF") as caught:
        bad("hello")
    assert caught.value.hint and "gguf" in caught.value.hint
    assert "llama_model_load" not in capfd.readouterr().err  # llama.cpp's own log stays out of the user's way


def test_predict_and_chain_of_thought_parse_with_the_json_adapter(lm: dspy.LM) -> None:
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        predicted = dspy.Predict("question -> answer")(question="What colour is the sky on a clear day?")
        reasoned = dspy.ChainOfThought("question -> answer")(question="How many legs does a cat have?")
    assert isinstance(predicted.answer, str) and predicted.answer.strip()
    assert isinstance(reasoned.reasoning, str) and isinstance(reasoned.answer, str)


class Count(dspy.Signature):
    """Answer with a number."""

    question: str = dspy.InputField()
    answer: int = dspy.OutputField()


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()


class Items(dspy.Signature):
    """List a few items of the category."""

    category: str = dspy.InputField()
    items: list[str] = dspy.OutputField()


TYPED_CASES: list[tuple[type[dspy.Signature], dict[str, str]]] = [
    (Count, {"question": "How many days are in a week?"}),
    (Count, {"question": "What is 3 + 4?"}),
    (Count, {"question": "How many wheels does a bicycle have?"}),
    (Count, {"question": "How many months are in a year?"}),
    (Sentiment, {"text": "I love this film, it is wonderful."}),
    (Sentiment, {"text": "This was the worst meal I ever had."}),
    (Sentiment, {"text": "The train leaves at nine."}),
    (Items, {"category": "fruits"}),
    (Items, {"category": "colours"}),
    (Items, {"category": "animals"}),
]


def test_typed_outputs_never_fail_to_parse_with_grammar_constrained_json(lm: dspy.LM) -> None:
    failures = []
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        for signature, inputs in TYPED_CASES:
            try:
                result = dspy.Predict(signature)(**inputs)
            except dspy.utils.exceptions.AdapterParseError as exc:
                failures.append((inputs, exc.lm_response))
                continue
            if signature is Count:
                assert isinstance(result.answer, int)
            elif signature is Sentiment:
                assert result.sentiment in {"positive", "negative", "neutral"}
            else:
                items = result["items"]  # not result.items: Prediction.items() is the dict-style method
                assert isinstance(items, list) and all(isinstance(item, str) for item in items)
    assert failures == []


def test_cache_usage_and_history(lm: dspy.LM, engine: LlamaCppEngine) -> None:
    before = engine.stats.calls
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), track_usage=True):
        first = dspy.Predict("question -> answer")(question="Name a primary colour.")
        second = dspy.Predict("question -> answer")(question="Name a primary colour.")
    assert engine.stats.calls == before + 1  # the repeat came from DSPy's cache
    assert second.answer == first.answer
    usage = first.get_lm_usage()[lm.model]
    entry = lm.history[-1]
    assert usage["prompt_tokens"] > 20 and usage["completion_tokens"] > 0  # real counts, not placeholders
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert entry["messages"][-1]["content"].count("Name a primary colour.") == 1
    assert entry["model"] == lm.model


def test_n_samples_are_identical_greedy_and_distinct_when_sampling(lm: dspy.LM) -> None:
    greedy = lm("Say one word.", n=3, max_tokens=8, cache=False)
    sampled = lm("Write a random word.", n=4, temperature=1.5, max_tokens=8, cache=False)
    assert len(greedy) == 3 and len(set(greedy)) == 1
    assert len(sampled) == 4 and len(set(sampled)) >= 2


def test_context_overflow_says_the_token_count_and_n_ctx() -> None:
    small = local_lm(n_ctx=128, cache=False)
    try:
        with pytest.raises(ContextWindowExceededError, match=r"prompt has \d+ tokens .*n_ctx=\d+.*raise n_ctx"):
            small("word " * 400)
    finally:
        small.engine.close()


def test_tools_are_refused_with_a_config_error_naming_them(lm: dspy.LM) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(ConfigError, match="tools"):
        lm("hi", tools=[tool], cache=False)


def test_stream_matches_complete_text_and_token_counts(engine: LlamaCppEngine) -> None:
    request = Request(
        model="local/x",
        messages=(Message.user("Count from one to five."),),
        config=RequestConfig(max_tokens=24, temperature=0.0),
    )
    completed = engine.complete(request)
    events = list(engine.stream(request))
    streamed = "".join(event.delta.text for event in events if event.type == "delta")
    end = events[-1]
    assert events[0].type == "start" and end.type == "end"
    assert streamed == completed.message.text
    assert end.usage.input_tokens == completed.usage.input_tokens
    assert end.usage.output_tokens == completed.usage.output_tokens
    assert end.finish_reason == completed.finish_reason


def test_eight_threads_get_their_own_answers(lm: dspy.LM) -> None:
    """No crash, no crossed or interleaved outputs: each thread gets exactly the single-threaded answer."""
    prompts = [f"Write one short sentence about the number {i}." for i in range(8)]
    expected = [lm(prompt, max_tokens=16, cache=False)[0] for prompt in prompts]
    results: dict[int, tuple[str, str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            text = lm(prompts[index], max_tokens=16, cache=False)[0]
            # The grammar admits only this thread's number: a crossed reply would show another one.
            schema: dict[str, Any] = {
                "type": "object",
                "properties": {"thread": {"type": "integer", "enum": [index]}},
                "required": ["thread"],
            }
            tag = lm(
                prompts[index],
                max_tokens=16,
                cache=False,
                response_format={"type": "json_schema", "json_schema": {"name": "Tagged", "schema": schema}},
            )[0]
            results[index] = (text, tag)
        except BaseException as exc:  # surfaced below with the thread's index
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert [results[i][0] for i in range(8)] == expected
    assert [results[i][1].replace(" ", "") for i in range(8)] == [f'{{"thread":{i}}}' for i in range(8)]


def test_the_model_is_loaded_once_per_process_and_settings(lm: dspy.LM) -> None:
    again = local_lm(max_tokens=10, cache=False)
    again("hi")
    lm("hello", cache=False)
    key = local_models.ModelKey(str(again.engine.model_path), 2048, 2)
    assert local_models.loaded_models()[key] == 1
    again.engine.close()


def test_pool_of_two_runs_concurrent_calls_correctly() -> None:
    pooled = local_lm(pool_size=2, n_threads=1, max_tokens=12, cache=False)
    prompts = [f"Say the word number {i}." for i in range(4)]
    expected = [pooled(prompt)[0] for prompt in prompts]
    answers: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, pooled(prompts[i])[0])) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert [answers[i] for i in range(4)] == expected
        assert local_models.loaded_models()[local_models.ModelKey(str(pooled.engine.model_path), 2048, 1)] == 2
    finally:
        pooled.engine.close()


def test_loading_reports_progress_once_with_name_and_size() -> None:
    events: list[LoadEvent] = []
    previous = set_load_listener(events.append)
    try:
        fresh = local_lm(n_ctx=512, max_tokens=4, cache=False)  # another n_ctx: a new load
        fresh("hi")
        fresh("hi again")
    finally:
        set_load_listener(previous)
        fresh.engine.close()
    assert [event.phase for event in events] == ["start", "done"]
    assert events[0].name == "SmolLM2-135M-Instruct" and events[0].size_bytes > 90 * 2**20
    assert events[1].seconds > 0


def test_async_calls_work_through_dspy(lm: dspy.LM) -> None:
    async def ask() -> tuple[Any, Any]:
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            return await asyncio.gather(
                dspy.Predict("question -> answer").acall(question="Name a fruit."),
                lm.acall("Say hi.", max_tokens=8, cache=False),
            )

    predicted, replies = asyncio.run(ask())
    assert isinstance(predicted.answer, str) and len(replies) == 1


@pytest.mark.parametrize(
    "response_format",
    [
        {
            "type": "json_object",
            "schema": {"type": "object", "properties": {"colour": {"enum": ["red", "blue"]}}, "required": ["colour"]},
        },
        {
            "type": "json_schema",
            "json_schema": {
                "name": "C",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"colour": {"enum": ["red", "blue"]}},
                    "required": ["colour"],
                },
            },
        },
    ],
    ids=["llama.cpp dialect", "openai json_schema"],
)
def test_raw_calls_with_a_schema_return_matching_json(lm: dspy.LM, response_format: dict[str, Any]) -> None:
    [reply] = lm("Pick a colour.", response_format=response_format, max_tokens=32, cache=False)
    assert json.loads(reply)["colour"] in {"red", "blue"}


def test_any_json_object_mode_returns_a_json_object(lm: dspy.LM) -> None:
    """Any-JSON mode bounds the syntax, not the length (a reply cut off at max_tokens would not parse):
    this prompt gets a short object from SmolLM2 (37 tokens at temperature 0)."""
    [reply] = lm(
        "Give the name and age of a person as JSON.",
        response_format={"type": "json_object"},
        max_tokens=96,
        cache=False,
    )
    assert lm.history[-1]["usage"]["completion_tokens"] < 96
    assert isinstance(json.loads(reply), dict)


def test_chat_adapter_without_a_schema_gets_one_hint_and_the_template_adapter_none(
    lm: dspy.LM, caplog: pytest.LogCaptureFixture
) -> None:
    from promptkit.adapter import TemplateAdapter
    from promptkit.lm import local_engine

    local_engine._warned_unconstrained.clear()
    short = lm.copy(max_tokens=16)

    def hints() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "promptkit.lm.local_engine"]

    with caplog.at_level("WARNING", logger="promptkit.lm.local_engine"):
        with dspy.context(lm=short, adapter=TemplateAdapter()):
            dspy.Predict("question -> answer")(question="Name a colour.")
        assert not hints()  # schema sent, grammar applied: nothing to say
        with dspy.context(lm=short, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
            for question in ("Name a fruit.", "Name a tree."):
                with contextlib.suppress(Exception):  # 8 unconstrained tokens rarely parse
                    dspy.Predict("question -> answer")(question=question)
    assert len(hints()) == 1 and "ChatAdapter" in hints()[0] and "TemplateAdapter" in hints()[0]


def test_sampling_options_reach_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    seen: list[dict[str, Any]] = []
    original = llama_cpp.Llama.create_chat_completion

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(llama_cpp.Llama, "create_chat_completion", spy)
    tuned = local_lm(max_tokens=8, repeat_penalty=1.1, frequency_penalty=0.3, top_k=20, cache=False)
    [reply] = tuned("Say hi.")
    assert isinstance(reply, str)
    assert seen[-1]["repeat_penalty"] == 1.1 and seen[-1]["frequency_penalty"] == 0.3 and seen[-1]["top_k"] == 20
    tuned.engine.close()
