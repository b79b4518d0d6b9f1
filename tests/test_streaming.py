"""Streaming under the TemplateAdapter, on the FakeLM: both reply shapes, sync and async, DSPy's own listeners."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dspy
import pytest
from dspy.streaming import StreamResponse
from typer.testing import CliRunner

import promptkit
from promptkit.adapter import TemplateAdapter
from promptkit.cli import app
from promptkit.lm.fake import FakeLM
from promptkit.lm.fake_engine import stream_pieces
from promptkit.lm.local_async import AsyncLlamaCppEngine
from promptkit.streaming import StreamListener, streamify
from tests.servers.fixtures import refused_url_fixture  # noqa: F401

# When a consumer fails (the test of DSPy's own listener), DSPy's producer thread is left with a send
# that anyio never runs; its warning may surface in whichever test runs next.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncIOBackend.run_async_from_thread:RuntimeWarning")

# Quotes, a newline, a backslash and non-ASCII: in a JSON reply all of them arrive escaped.
TRICKY = 'He said "hi",\nthen left \\ à bientôt 😀.'
ANSWER = "Paris is the capital of France."

ADAPTERS = {"markers": TemplateAdapter, "json": lambda: TemplateAdapter(structured="always")}


def run(program: Any, listeners: list[Any], adapter: Any, lm: Any, *, mode: str = "sync", **inputs: Any) -> list[Any]:
    """Everything the streamed program yields. ``mode``: sync generator, async generator, or async program."""
    stream = streamify(
        program, stream_listeners=listeners, async_streaming=mode != "sync", is_async_program=mode == "async_program"
    )
    with dspy.context(lm=lm, adapter=adapter):
        if mode == "sync":
            return list(stream(**inputs))

        async def collect() -> list[Any]:
            return [value async for value in stream(**inputs)]

        return asyncio.run(collect())


def chunks(values: list[Any], field: str) -> list[StreamResponse]:
    return [v for v in values if isinstance(v, StreamResponse) and v.signature_field_name == field]


def joined(values: list[Any], field: str) -> str:
    return "".join(chunk.chunk for chunk in chunks(values, field))


def assert_streamed(values: list[Any], field: str, expected: str) -> None:
    streamed = chunks(values, field)
    assert len([c for c in streamed if c.chunk]) > 1, streamed  # really in pieces, not one block
    assert joined(values, field) == expected
    assert [c.is_last_chunk for c in streamed] == [False] * (len(streamed) - 1) + [True]


@pytest.mark.parametrize("shape", ["markers", "json"])
@pytest.mark.parametrize("mode", ["sync", "async", "async_program"])
def test_chunks_join_to_the_predicted_field(shape: str, mode: str) -> None:
    fake = FakeLM([{"answer": TRICKY}])
    values = run(
        dspy.Predict("question -> answer"), [StreamListener("answer")], ADAPTERS[shape](), fake, mode=mode, question="q"
    )
    prediction = values[-1]
    assert isinstance(prediction, dspy.Prediction) and prediction.answer == TRICKY
    assert_streamed(values, "answer", TRICKY)
    reply = fake.calls[0].reply or ""
    assert reply.startswith("{" if shape == "json" else "[[ ## answer ## ]]")  # the shape under test


@pytest.mark.parametrize("shape", ["markers", "json"])
def test_chain_of_thought_streams_reasoning_and_answer(shape: str) -> None:
    fake = FakeLM([{"reasoning": TRICKY, "answer": ANSWER}])
    listeners = [StreamListener("reasoning"), StreamListener("answer")]
    values = run(dspy.ChainOfThought("question -> answer"), listeners, ADAPTERS[shape](), fake, question="q")
    assert_streamed(values, "reasoning", TRICKY)
    assert_streamed(values, "answer", ANSWER)
    fields = [v.signature_field_name for v in values if isinstance(v, StreamResponse)]
    assert fields.index("answer") > max(i for i, f in enumerate(fields) if f == "reasoning")  # in reply order


def test_a_non_string_json_field_arrives_whole_when_complete() -> None:
    class Count(dspy.Signature):
        question: str = dspy.InputField()
        items: list[str] = dspy.OutputField()
        total: int = dspy.OutputField()

    fake = FakeLM([{"items": ["a", "b"], "total": 12}])
    listeners = [StreamListener("items"), StreamListener("total")]
    values = run(dspy.Predict(Count), listeners, ADAPTERS["json"](), fake, question="q")
    assert [(c.chunk, c.is_last_chunk) for c in chunks(values, "items")] == [('["a", "b"]', True)]
    assert [(c.chunk, c.is_last_chunk) for c in chunks(values, "total")] == [("12", True)]


@pytest.mark.parametrize("shape", ["markers", "json"])
def test_plain_dspy_streamify_with_dspys_own_listener_works(shape: str) -> None:
    """DSPy's listener alone refuses any adapter it does not know by name; the TemplateAdapter adopts the
    listeners of a streamed call (the same objects: the caller's listener reports its state)."""
    listener = dspy.streaming.StreamListener("answer")
    program = dspy.streamify(dspy.Predict("question -> answer"), stream_listeners=[listener], async_streaming=False)
    with dspy.context(lm=FakeLM([{"answer": ANSWER}]), adapter=ADAPTERS[shape]()):
        values = list(program(question="q"))
    assert_streamed(values, "answer", ANSWER)
    assert isinstance(listener, StreamListener) and listener.stream_end


@pytest.mark.parametrize("shape", ["markers", "json"])
def test_dspys_own_listener_works_through_promptkit_streamify(shape: str) -> None:
    listener = dspy.streaming.StreamListener("answer")
    values = run(
        dspy.Predict("question -> answer"), [listener], ADAPTERS[shape](), FakeLM([{"answer": ANSWER}]), question="q"
    )
    assert_streamed(values, "answer", ANSWER)


class TwoCalls(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.predict = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        self.predict(question=question)
        return self.predict(question=question + "?")


class MyAdapter(dspy.ChatAdapter):
    """A user's adapter, streamable under DSPy once its name is added to a listener's identifiers."""


def test_streamify_converts_only_plain_dspy_listeners_keeping_their_fields() -> None:
    program = TwoCalls()
    plain = dspy.streaming.StreamListener("answer", predict=program.predict, predict_name="mine", allow_reuse=True)
    plain.adapter_identifiers["MyAdapter"] = plain.adapter_identifiers["ChatAdapter"]
    values = run(program, [plain], MyAdapter(), FakeLM([{"answer": "one two"}, {"answer": "three four"}]), question="q")
    streamed = chunks(values, "answer")
    assert {c.predict_name for c in streamed} == {"mine"} and sum(c.is_last_chunk for c in streamed) == 2
    assert joined(values, "answer") == "one twothree four"

    class Recording(dspy.streaming.StreamListener):
        received = 0

        def receive(self, chunk: Any) -> Any:
            Recording.received += 1
            return super().receive(chunk)

    ours = StreamListener("answer")
    run(
        dspy.ChainOfThought("question -> answer"),
        [ours, Recording("reasoning")],
        dspy.ChatAdapter(),
        FakeLM([{"reasoning": "r", "answer": "x"}]),
        question="q",
    )
    assert ours.stream_end and Recording.received > 0  # both used as given


@pytest.mark.parametrize("adapter", [dspy.ChatAdapter, dspy.JSONAdapter, dspy.XMLAdapter], ids=lambda a: a.__name__)
def test_under_dspys_adapters_it_behaves_exactly_like_dspys_listener(adapter: Callable[[], Any]) -> None:
    answers = [{"reasoning": TRICKY, "answer": ANSWER}]
    results = []
    for listener_class in (dspy.streaming.StreamListener, StreamListener):
        listeners = [listener_class("reasoning"), listener_class("answer")]
        stream = dspy.streamify(
            dspy.ChainOfThought("question -> answer"), stream_listeners=listeners, async_streaming=False
        )
        with dspy.context(lm=FakeLM(answers), adapter=adapter()):
            results.append([v for v in stream(question="q") if isinstance(v, StreamResponse)])
    dspys, ours = results
    assert ours == dspys and len(ours) > 2


@pytest.mark.parametrize("shape", ["markers", "json"])
def test_a_reusable_listener_streams_every_call_and_a_single_use_one_only_the_first(shape: str) -> None:
    answers = [{"answer": "first answer here"}, {"answer": "second answer here"}]
    reused = run(
        TwoCalls(), [StreamListener("answer", allow_reuse=True)], ADAPTERS[shape](), FakeLM(answers), question="q"
    )
    pieces = [(c.chunk, c.is_last_chunk) for c in chunks(reused, "answer")]
    ends = [i for i, (_, last) in enumerate(pieces) if last]
    assert len(ends) == 2
    assert "".join(p for p, _ in pieces[: ends[0] + 1]) == "first answer here"
    assert "".join(p for p, _ in pieces[ends[0] + 1 :]) == "second answer here"
    single = run(TwoCalls(), [StreamListener("answer")], ADAPTERS[shape](), FakeLM(answers), question="q")
    assert joined(single, "answer") == "first answer here"


class Count(dspy.Signature):
    question: str = dspy.InputField()
    answer: int = dspy.OutputField()


@pytest.mark.parametrize(
    ("shape", "unparsable", "sent_before"),
    [("markers", "[[ ## answer ## ]]\nnot a number", "not a number"), ("json", '{"other": 1}', "")],
)
def test_after_a_reply_that_did_not_parse_the_retry_streams(shape: str, unparsable: str, sent_before: str) -> None:
    adapter = TemplateAdapter(structured="always" if shape == "json" else "auto", retry_on_parse_error=True)
    fake = FakeLM([unparsable, {"answer": 42}])
    values = run(dspy.Predict(Count), [StreamListener("answer")], adapter, fake, question="q")
    assert len(fake.calls) == 2 and values[-1].answer == 42
    # What streamed from the failed reply cannot be taken back; the retry's reply streams afresh.
    assert joined(values, "answer") == sent_before + "42" and chunks(values, "answer")[-1].is_last_chunk


def test_fake_lm_streams_token_like_pieces_and_retries_a_fault_before_any() -> None:
    reply = '[[ ## answer ## ]]\n{"a": 1}  x\n'
    assert stream_pieces(reply) == ["[[", " ##", " answer", " ##", " ]]", '\n{"', "a", '":', " 1", "}", "  x", "\n"]
    fake = FakeLM([reply], faults=["rate_limit"])
    with dspy.context(lm=fake, adapter=TemplateAdapter()):
        raw = list(dspy.streamify(dspy.Predict("question -> answer"), async_streaming=False)(question="q"))
    texts = [v.choices[0].delta.content for v in raw[:-1] if v.choices[0].delta.content]
    assert "".join(texts) == reply and len(texts) == 12
    assert [call.fault for call in fake.calls] == ["rate_limit", None] and raw[-1].answer == '{"a": 1}  x'


def test_the_local_async_stream_cancelled_mid_token_closes_after_that_token() -> None:
    """A generator cannot be closed while its worker thread runs it: cancelling must wait for the step."""
    closed = threading.Event()

    class SlowEngine:
        def stream(self, request: Any) -> Iterator[int]:
            try:
                for token in range(50):
                    time.sleep(0.05)  # one token, generated in the worker thread
                    yield token
            finally:
                closed.set()  # where the real engine hands its llama context back

    engine = AsyncLlamaCppEngine(SlowEngine())  # type: ignore[arg-type]

    async def cancel_mid_token() -> None:
        streaming = asyncio.Event()

        async def consume() -> None:
            async for _ in engine.stream(None):  # type: ignore[arg-type]
                streaming.set()

        task = asyncio.create_task(consume())
        await streaming.wait()
        await asyncio.sleep(0.01)  # the next token is being generated now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_token())
    assert closed.is_set()


# -- promptkit ask --stream ----------------------------------------------------------------------


def echo_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """What `ask` writes through typer.echo: one call per streamed chunk, flushed by click."""
    import promptkit.cli.ask as ask_module

    calls: list[tuple[str, bool]] = []
    real = ask_module.typer.echo

    def record(message: str = "", nl: bool = True, **kw: Any) -> None:
        calls.append((message, nl))
        real(message, nl=nl, **kw)

    monkeypatch.setattr(ask_module.typer, "echo", record)
    return calls


@pytest.mark.parametrize("extra", [[], ["--cot"]])
def test_ask_stream_prints_the_answer_chunk_by_chunk(monkeypatch: pytest.MonkeyPatch, extra: list[str]) -> None:
    writes = echo_calls(monkeypatch)
    result = CliRunner().invoke(app, ["ask", "What is the capital of France?", "--model", "fake", "--stream", *extra])
    assert result.exit_code == 0, result.output
    answer = "[fake] What is the capital of France?"
    assert result.stdout == answer + "\n"  # printed once, as it was generated
    pieces = [message for message, nl in writes if not nl]
    assert len(pieces) > 3 and "".join(pieces) == answer
    if extra:
        assert "reasoning:" in result.stderr  # what ask prints today follows the answer


def test_ask_stream_with_a_technique_prints_each_generation_on_its_own_line() -> None:
    result = CliRunner().invoke(app, ["ask", "What is 2+3?", "--model", "fake", "--stream", "-t", "verify_and_edit"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) > 1 and set(lines) == {"[fake] What is 2+3?"}
    assert "final answer:" not in result.stderr  # the last generation was the answer


@pytest.mark.server
def test_ask_stream_failure_is_one_line_with_the_runtime_exit_code(refused_url: str) -> None:
    result = CliRunner().invoke(
        app, ["ask", "hi", "--model", "openai/x", "--api-base", refused_url, "--stream"], env={"PROMPTKIT_DEBUG": None}
    )
    assert result.exit_code == 1
    assert "BackendUnavailableError" in result.stderr and "Traceback" not in result.output


def test_streaming_names_are_exported() -> None:
    assert promptkit.StreamListener is StreamListener and promptkit.streamify is streamify
    assert {"StreamListener", "streamify"} <= set(promptkit.__all__)
