"""The DSPy 3.4 engine behind :class:`promptkit.lm.FakeLM`: scripted answers, faults, call records.

An engine receives only a ``dspy.lm15.Request`` (messages + generation config). To answer the way the
active adapter parses (``[[ ## field ## ]]`` for ChatAdapter, JSON for JSONAdapter, tags for XMLAdapter,
whatever a custom adapter expects), the engine looks up the adapter call in progress by walking the Python
frames up to ``Adapter.__call__`` / ``acall``, whose locals hold the adapter, the signature and the
inputs. Frame inspection is the only way: DSPy passes none of these to the engine, and a fake that
guessed the format would not exercise the real parser.
"""

from __future__ import annotations

import itertools
import random
import re
import sys
import threading
import types
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from promptkit.errors import FakeLMError, InputError

FAULTS = ("rate_limit", "timeout", "server_error", "malformed")
# Text no adapter can parse: no [[ ## field ## ]] markers, no JSON object, no XML tags.
MALFORMED_TEXT = "Sorry, I lost track of the requested format ~~ no fields here ~~"
ECHO_CHARS = 60
# A streamed reply arrives in token-like pieces: a word or a run of punctuation, each with the
# whitespace before it. Real tokenizers split `[[ ## answer ## ]]` and `{"answer":` the same way,
# so stream listeners meet markers and keys split across chunks, as they do against a server.
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s]+)")

Answer = Mapping[str, Any] | str


@dataclass
class FakeCall:
    """One call the FakeLM received (recorded even when a fault was injected)."""

    messages: list[dict[str, Any]]  # role, content (text); parts too when a message has images/files/audio
    inputs: dict[str, Any]
    output_fields: list[str]
    signature: Any | None  # the DSPy signature class, None outside an adapter call
    adapter: str | None  # adapter class name, None outside an adapter call
    config: dict[str, Any]
    index: int  # position in FakeLM.calls
    fault: str | None = None
    reply: str | None = None  # the text returned; None when the call raised

    @property
    def prompt(self) -> str:
        return "\n\n".join(m["content"] for m in self.messages)

    @property
    def last_user_message(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass
class AdapterCall:
    adapter: Any
    signature: Any  # as the module passed it
    parse_signature: Any  # what the adapter formats and parses (native tool fields removed)
    inputs: dict[str, Any] = field(default_factory=dict)


def _uses_script(lm: Any, script: FakeScript) -> bool:
    engines = (getattr(lm, "_engine_spec", None), getattr(lm, "_async_engine_spec", None))
    return any(getattr(engine, "script", None) is script for engine in engines)


def find_adapter_call(script: FakeScript) -> AdapterCall | None:
    """The innermost adapter call whose LM runs on ``script`` (else the innermost adapter call at all)."""
    from dspy.adapters.base import Adapter

    fallback: AdapterCall | None = None
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in ("__call__", "acall"):
            local = frame.f_locals
            adapter = local.get("self")
            if isinstance(adapter, Adapter) and "signature" in local:
                signature = local["signature"]
                found = AdapterCall(
                    adapter, signature, local.get("processed_signature") or signature, dict(local.get("inputs") or {})
                )
                if _uses_script(local.get("lm"), script):
                    return found
                fallback = fallback or found
        frame = frame.f_back
    return fallback


def _prepared_call_options() -> dict[str, Any] | None:
    """The merged call options (incl. ``n``) from DSPy's ``execute`` frame; ``n`` never reaches an engine."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        in_execute = frame.f_code.co_name in ("execute", "aexecute")
        if in_execute and frame.f_globals.get("__name__") == "dspy.clients.execution":
            call = frame.f_locals.get("call")
            options = getattr(call, "legacy", None)
            if isinstance(options, dict):
                return {**options, "n": getattr(call, "n", 1)}
        frame = frame.f_back
    return None


def _config(request: Any) -> dict[str, Any]:
    hidden = {"model", "messages", "rollout_id"}
    options = _prepared_call_options() or {}
    config = {k: v for k, v in options.items() if k not in hidden and not k.startswith("api_") and v is not None}
    # The options as the caller gave them win (e.g. an OpenAI-shaped response_format); the Request's
    # canonical config fills in what the execute frame did not show.
    for name in ("temperature", "max_tokens", "top_p", "stop", "response_format", "seed"):
        value = getattr(request.config, name, None)
        if value not in (None, ()):
            config.setdefault(name, value)
    config.setdefault("n", 1)
    return config


def _messages(request: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = request.system
    if system is not None:
        text = system if isinstance(system, str) else "".join(getattr(p, "text", "") or "" for p in system)
        messages.append({"role": "system", "content": text})
    for message in request.messages:
        recorded: dict[str, Any] = {"role": message.role, "content": "".join(_part_text(p) for p in message.parts)}
        if any(p.type != "text" for p in message.parts):  # images, files, audio: kept for tests to inspect
            recorded["parts"] = [_part_record(p) for p in message.parts]
        messages.append(recorded)
    return messages


def _part_text(part: Any) -> str:
    return str(getattr(part, "text", "") or "") if part.type == "text" else ""


def _part_record(part: Any) -> dict[str, Any]:
    """A content part as plain data: its type and whichever source and text fields it has."""
    fields = ("text", "url", "file_id", "media_type", "data", "filename")
    return {"type": part.type, **{k: getattr(part, k) for k in fields if getattr(part, k, None) is not None}}


def echo_value(annotation: Any, text: str) -> Any:
    """A deterministic value of the annotated type, derived from ``text`` (used by echo mode)."""
    origin = get_origin(annotation)
    if annotation in (str, Any, None) or annotation is type(None):
        return text
    if annotation is bool:
        return False
    if annotation is int:
        return len(text)
    if annotation is float:
        return float(len(text))
    if origin is Literal:
        return get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation)).value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return echo_value(options[0], text) if options else None
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        args = get_args(annotation)
        return [echo_value(args[0] if args else str, text)]
    if origin is dict or annotation is dict:
        return {}
    model_fields = getattr(annotation, "model_fields", None)
    if isinstance(model_fields, dict):  # a pydantic model: fill each field
        return {name: echo_value(info.annotation, text) for name, info in model_fields.items()}
    return text


def echo_answer(call: FakeCall, signature: Any | None) -> Answer:
    """``[fake] <first 60 chars of the first input>`` in every output field (or as plain text)."""
    first = next(iter(call.inputs.values()), None) if call.inputs else None
    source = str(first) if first is not None else call.last_user_message
    text = "[fake] " + " ".join(source.split())[:ECHO_CHARS].rstrip()
    if signature is None:
        return text
    return {name: echo_value(info.annotation, text) for name, info in signature.output_fields.items()}


class FakeScript:
    """What one FakeLM (and its copies) answers, with its fault queue and call log. Thread-safe."""

    def __init__(
        self,
        answers: Any = None,
        *,
        mapping: Mapping[str, Answer] | None = None,
        fn: Callable[[FakeCall], Answer] | None = None,
        echo: bool = False,
        faults: Iterable[str | None] = (),
        retry_after: float = 0.0,
    ) -> None:
        if answers is not None:
            if callable(answers):
                fn, answers = answers, None
            elif isinstance(answers, Mapping):
                mapping, answers = answers, None
            elif isinstance(answers, str) or not isinstance(answers, Iterable):
                raise InputError(
                    f"FakeLM answers must be a list of output dicts or strings, got {type(answers).__name__}",
                    hint="wrap a single answer in a list: FakeLM([{'answer': '42'}])",
                )
        given = [name for name, value in (("answers", answers), ("mapping", mapping), ("fn", fn)) if value is not None]
        if len(given) + echo != 1:
            raise InputError(
                "FakeLM needs exactly one of answers (a list), mapping (prompt substring -> answer) or fn (a callable)"
                + (f"; got {', '.join(given)}" if given else ""),
                hint="e.g. FakeLM([{'answer': '42'}]), FakeLM({'France': {'answer': 'Paris'}}) or FakeLM.echo()",
            )
        self.mode = "echo" if echo else given[0]
        self.answers: list[Answer] = list(answers) if answers is not None else []
        self.mapping: dict[str, Answer] = dict(mapping or {})
        self.fn = fn
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.calls: list[FakeCall] = []
        self.pending_faults: deque[str | None] = deque(self._check_fault(f) for f in faults)
        self.served = 0  # answers consumed in list mode
        # Per-script cache namespace (see FakeLM): DSPy's disk cache outlives the process, and a fake's
        # answers must never be replayed into another FakeLM or another test run.
        self.namespace = random.SystemRandom().getrandbits(60)

    def __deepcopy__(self, memo: dict[int, Any]) -> FakeScript:
        # DSPy deep-copies modules (and an LM attached to them) when compiling; every copy of a FakeLM
        # must keep answering from, and recording into, the same script.
        return self

    @staticmethod
    def _check_fault(fault: str | None) -> str | None:
        if fault is not None and fault not in FAULTS:
            raise InputError(f"unknown FakeLM fault {fault!r}", hint=f"use one of {', '.join(FAULTS)} or None")
        return fault

    def inject(self, fault: str, times: int = 1) -> None:
        self._check_fault(fault)
        with self.lock:
            self.pending_faults.extendleft(itertools.repeat(fault, times))

    def respond(self, request: Any) -> Any:
        from dspy.lm15 import Message, Response, Usage

        context = find_adapter_call(self)
        signature = context.parse_signature if context else None
        with self.lock:
            call = FakeCall(
                messages=_messages(request),
                inputs=dict(context.inputs) if context else {},
                output_fields=list(signature.output_fields) if signature is not None else [],
                signature=context.signature if context else None,
                adapter=type(context.adapter).__name__ if context else None,
                config=_config(request),
                index=len(self.calls),
                fault=self.pending_faults.popleft() if self.pending_faults else None,
            )
            self.calls.append(call)
            answer = self._take_listed(call) if call.fault is None and self.mode == "answers" else None
        self._raise_fault(call)
        if call.fault == "malformed":
            text = MALFORMED_TEXT
        else:
            text = self._render(self._answer(call, answer, signature), call, context)
        call.reply = text
        usage = Usage(input_tokens=len(call.prompt.split()), output_tokens=len(text.split()))
        return Response(
            id=f"fake-{call.index}",
            model=request.model,
            message=Message.assistant(text),
            finish_reason="stop",
            usage=usage,
        )

    def _take_listed(self, call: FakeCall) -> Answer:
        if self.served >= len(self.answers):
            raise FakeLMError(
                f"FakeLM ran out of answers after {call.index} calls; add more answers "
                f"(it was scripted with {len(self.answers)})"
            )
        self.served += 1
        return self.answers[self.served - 1]

    def _answer(self, call: FakeCall, listed: Answer | None, signature: Any | None) -> Any:
        if self.mode == "answers":
            return listed
        if self.mode == "mapping":
            for haystack in (call.last_user_message, call.prompt):
                for key, value in self.mapping.items():
                    if key in haystack:
                        return value
            keys = ", ".join(repr(k) for k in self.mapping)
            raise FakeLMError(
                f"FakeLM call {call.index}: no mapping key occurs in the prompt (keys: {keys}); "
                f"last user message starts {call.last_user_message[:120]!r}"
            )
        if self.mode == "fn":
            assert self.fn is not None
            return self.fn(call)
        return echo_answer(call, signature)

    def _raise_fault(self, call: FakeCall) -> None:
        from dspy import lm15

        message = f"FakeLM injected fault {call.fault!r} on call {call.index}"
        if call.fault == "rate_limit":
            raise lm15.RateLimitError(message, status=429, retry_after=self.retry_after)
        if call.fault == "timeout":
            raise lm15.TimeoutError(message, retry_after=self.retry_after)
        if call.fault == "server_error":
            raise lm15.ServerError(message, status=500, retry_after=self.retry_after)

    @staticmethod
    def _render(answer: Any, call: FakeCall, context: AdapterCall | None) -> str:
        if isinstance(answer, str):
            return answer
        if not isinstance(answer, Mapping):
            raise FakeLMError(
                f"FakeLM answer for call {call.index} is a {type(answer).__name__}; "
                "give a dict of output fields or a raw string"
            )
        if context is None:  # a plain lm("...") call: no adapter will parse this
            return "\n".join(f"{key}: {value}" for key, value in answer.items())
        signature = context.parse_signature
        missing = [name for name, info in signature.output_fields.items() if name not in answer and info.is_required()]
        if missing:
            raise FakeLMError(
                f"FakeLM answer for call {call.index} has no value for output field(s) {', '.join(missing)} "
                f"of signature {signature.signature!r}",
                hint="add them to the scripted answer (script a raw string to test a parse failure)",
            )
        values = {name: answer[name] for name in signature.output_fields if name in answer}
        return str(context.adapter.format_assistant_message_content(signature, values))


def stream_pieces(text: str) -> list[str]:
    """``text`` cut into the token-like pieces a streamed reply arrives in (they join back to ``text``)."""
    pieces = _PIECE.findall(text)
    rest = text[sum(map(len, pieces)) :]  # trailing whitespace, which no piece starts with
    return [*pieces, rest] if rest else pieces


def stream_events(response: Any) -> Iterator[Any]:
    """A complete ``Response`` replayed as the lm15 events of a stream (start, text deltas, end)."""
    from dspy.lm15 import StreamDeltaEvent, StreamEndEvent, StreamStartEvent, TextDelta

    yield StreamStartEvent(id=response.id, model=response.model)
    for piece in stream_pieces(response.message.text or ""):
        yield StreamDeltaEvent(TextDelta(piece))
    yield StreamEndEvent(finish_reason=response.finish_reason, usage=response.usage)


class FakeEngine:
    """Sync engine: ``complete(Request) -> Response``; ``stream`` replays the same reply in pieces."""

    def __init__(self, script: FakeScript) -> None:
        self.script = script

    def complete(self, request: Any) -> Any:
        return self.script.respond(request)

    def stream(self, request: Any) -> Iterator[Any]:
        # respond() runs at the first next(), inside DSPy's call, where it finds the adapter call.
        yield from stream_events(self.script.respond(request))

    def close(self) -> None:
        return None


class AsyncFakeEngine:
    """Async engine for ``acall`` paths (``await module.acall(...)``)."""

    def __init__(self, script: FakeScript) -> None:
        self.script = script

    async def complete(self, request: Any) -> Any:
        return self.script.respond(request)

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        for event in stream_events(self.script.respond(request)):
            yield event

    async def aclose(self) -> None:
        return None
