"""Streaming from real models: the embedded SmolLM2 (JSON under its grammar) and llama.cpp's server over LiteLLM.

SmolLM2-135M is a plumbing model: these tests assert that text arrives in several chunks that join
to the parsed answer, never what the answer says. Greedy decoding keeps them deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import dspy
import pytest

pytest.importorskip("llama_cpp")

from dspy.lm15 import Config as RequestConfig
from dspy.lm15 import Message, Request
from dspy.streaming import StreamResponse
from typer.testing import CliRunner

import promptkit
from promptkit.adapter import TemplateAdapter
from promptkit.cli import app
from promptkit.lm.local_async import AsyncLlamaCppEngine
from promptkit.streaming import StreamListener, streamify

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("memory_only_cache")]

QUESTION = "Write one sentence about the Moon."


@pytest.fixture(scope="module")
def local() -> Iterator[dspy.LM]:
    built = promptkit.lm("local", max_tokens=64, cache=False)
    yield built
    built.engine.close()


def stream_answer(lm: dspy.LM, *, is_async_program: bool = False) -> tuple[list[str], dspy.Prediction]:
    """The answer's chunks and the prediction, streamed through an async generator."""
    program = streamify(
        dspy.Predict("question -> answer"),
        stream_listeners=[StreamListener("answer")],
        is_async_program=is_async_program,
    )

    async def collect() -> tuple[list[str], Any]:
        pieces: list[str] = []
        prediction = None
        async for value in program(question=QUESTION):
            if isinstance(value, StreamResponse):
                pieces.append(value.chunk)
            elif isinstance(value, dspy.Prediction):
                prediction = value
        return pieces, prediction

    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        return asyncio.run(collect())


@pytest.mark.parametrize("is_async_program", [False, True], ids=["sync-program", "async-program"])
def test_the_embedded_model_streams_its_json_answer(local: dspy.LM, is_async_program: bool) -> None:
    pieces, prediction = stream_answer(local, is_async_program=is_async_program)
    assert local.history[-1]["outputs"][0].lstrip().startswith("{")  # JSON mode, under the grammar
    assert len([p for p in pieces if p]) > 1, pieces
    assert "".join(pieces) == prediction.answer and prediction.answer.strip()


def test_ask_stream_on_the_embedded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import promptkit.cli.ask as ask_module

    pieces: list[str] = []
    real = ask_module.typer.echo

    def record(message: str = "", nl: bool = True, **kw: Any) -> None:
        if not nl:
            pieces.append(message)
        real(message, nl=nl, **kw)

    monkeypatch.setattr(ask_module.typer, "echo", record)
    built: list[dspy.LM] = []  # the command's own LM: its engine is closed here, not at interpreter exit
    build_lm = ask_module.build_lm
    monkeypatch.setattr(ask_module, "build_lm", lambda *args: built.append(build_lm(*args)) or built[-1])
    try:
        result = CliRunner().invoke(app, ["ask", QUESTION, "--model", "local", "--max-tokens", "64", "--stream"])
    finally:
        for lm in built:
            lm.engine.close()
    assert result.exit_code == 0, result.output
    assert len([p for p in pieces if p]) > 1
    assert result.stdout == "".join(pieces) + "\n"


def test_an_async_stream_cancelled_mid_generation_frees_the_model(local: dspy.LM) -> None:
    engine = AsyncLlamaCppEngine(local.engine)  # one llama context (pool_size=1): a leaked lease would block

    def request(text: str, max_tokens: int) -> Request:
        return Request(model="local/x", messages=(Message.user(text),), config=RequestConfig(max_tokens=max_tokens))

    async def cancel_then_complete() -> Any:
        generating = asyncio.Event()

        async def consume() -> None:
            async for event in engine.stream(request("Tell a long story about the Moon.", 200)):
                if event.type == "delta":
                    generating.set()

        task = asyncio.create_task(consume())
        await generating.wait()
        task.cancel()  # lands while a token is being generated in the worker thread
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return await asyncio.wait_for(engine.complete(request("Say hi.", 4)), timeout=60)

    reply = asyncio.run(cancel_then_complete())
    assert 0 < reply.usage.output_tokens <= 4


@pytest.mark.server
def test_a_llamacpp_server_streams_through_litellm(llamacpp_server: Any) -> None:
    server_lm = promptkit.lm(
        "openai/smollm2",
        api_base=llamacpp_server.api_base,
        api_key="x",
        max_tokens=64,
        num_retries=0,
        cache=False,
        structured_output="json_object_schema",
    )
    pieces, prediction = stream_answer(server_lm)
    assert server_lm.history[-1]["outputs"][0].lstrip().startswith("{")
    assert len([p for p in pieces if p]) > 1, pieces
    assert "".join(pieces) == prediction.answer and prediction.answer.strip()
