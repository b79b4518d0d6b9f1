"""Streaming for programs run under :class:`~promptkit.adapter.TemplateAdapter`.

DSPy's ``StreamListener`` picks its field boundaries by the adapter's class *name*
(``ChatAdapter``, ``JSONAdapter``, ``XMLAdapter``) and refuses any other, so
``dspy.streamify`` fails under the TemplateAdapter. This module's :class:`StreamListener` has
the same interface and behaves exactly like DSPy's under any other adapter.

A TemplateAdapter reply is either ``[[ ## field ## ]]`` markers (ChatAdapter's) or one JSON
object. Which one is decided inside the adapter call, in a context variable the consumer task
(where listeners run) never sees, so the listener reads it off the stream itself: a reply whose
first non-blank character is ``{`` is JSON. Markers go through DSPy's own ChatAdapter logic;
JSON is followed with a partial JSON parser, so the chunks are the *decoded* string value (no
quotes or escapes) and join to exactly the parsed field.

    program = promptkit.streamify(dspy.ChainOfThought("question -> answer"),
                                  stream_listeners=[StreamListener("answer")])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import dspy
import jiter
from dspy.dsp.utils.settings import settings
from dspy.streaming import StreamListener as DSPyStreamListener
from dspy.streaming import StreamResponse

from promptkit.adapter import TemplateAdapter

__all__ = ["StreamListener", "adopt", "stream_field", "streamify"]

Shape = Literal["markers", "json"]
# Stands in for the TemplateAdapter while DSPy's marker logic runs: same markers, and the one
# class DSPy's listener knows them by.
_MARKERS_STAND_IN = dspy.ChatAdapter()
_DECODER = json.JSONDecoder()


class StreamListener(DSPyStreamListener):
    """``dspy.streaming.StreamListener`` that also understands the TemplateAdapter (both reply shapes)."""

    # DSPy's state that this class reads and writes (set in DSPy's __init__, unannotated there).
    stream_start: bool
    stream_end: bool
    adapter_identifiers: dict[str, dict[str, Any]]

    def __init__(
        self,
        signature_field_name: str,
        predict: Any = None,
        predict_name: str | None = None,
        allow_reuse: bool = False,
    ) -> None:
        super().__init__(signature_field_name, predict, predict_name, allow_reuse)
        self._init_reply_state()

    def _init_reply_state(self) -> None:
        self._shape: Shape = "markers"
        self._json = _JSONField(self.signature_field_name)
        # Between two replies (before the first, after a chunk with a finish reason): the next chunk
        # with text starts a reply and shows its shape. Every engine DSPy streams from ends a reply
        # with a finish reason; response ids are not relied on, as a custom LM's chunks may have none.
        self._awaiting_reply = True

    def receive(self, chunk: Any) -> StreamResponse | None:
        if not isinstance(settings.adapter, TemplateAdapter):
            return super().receive(chunk)
        text = _text(chunk)
        if self._awaiting_reply and text and not text.isspace():
            self._start_reply(text)
        if self._awaiting_reply:
            result = None  # blank or empty chunks before a reply's text: nothing a listener acts on
        elif self._shape == "json":
            result = self._receive_json(text or "")
        else:
            with dspy.context(adapter=_MARKERS_STAND_IN):
                result = super().receive(chunk)
        if _finished(chunk):
            self._awaiting_reply = True
        return result

    def _start_reply(self, text: str) -> None:
        # A reply that follows one which did not complete this field (cut off, or retried after a
        # parse failure) starts afresh, as does every reply of a reusable listener.
        if not self.stream_end or self.allow_reuse:
            self._restart()
        self._shape = "json" if text.lstrip().startswith("{") else "markers"
        self._json = _JSONField(self.signature_field_name)
        self._awaiting_reply = False

    def _receive_json(self, text: str) -> StreamResponse | None:
        if self.stream_end:
            return None
        piece, done = self._json.feed(text)
        if piece is None and not done:
            return None
        self.stream_start = True
        self.stream_end = done
        return StreamResponse(self.predict_name, self.signature_field_name, piece or "", is_last_chunk=done)

    def _restart(self) -> None:
        """Forget the field state of an earlier reply: DSPy's (whatever its __init__ sets) and ours."""
        identifiers = self.adapter_identifiers  # instance data a user may have extended
        StreamListener.__init__(self, self.signature_field_name, self.predict, self.predict_name, self.allow_reuse)
        self.adapter_identifiers = identifiers


class _JSONField:
    """The value of one key of a JSON object reply, followed as the reply arrives.

    ``feed(text)`` returns the new part of the value (decoded) and whether the value is complete.
    A string value grows chunk by chunk; any other value (number, list, object) is given whole, as
    JSON text, once the next key or the end of the object shows it is complete.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.buffer = ""
        self.sent = ""

    def feed(self, text: str) -> tuple[str | None, bool]:
        self.buffer += text
        start = self.buffer.find("{")
        if start < 0:
            return None, False
        source = self.buffer[start:].encode("utf-8")
        try:
            parsed = jiter.from_json(source, partial_mode="trailing-strings")
        except ValueError:  # cut inside an escape or a number: wait for the next chunk
            return None, False
        if not isinstance(parsed, dict) or self.name not in parsed:
            return None, False
        keys = list(parsed)
        done = keys.index(self.name) < len(keys) - 1 or _closed(self.buffer[start:])
        value = parsed[self.name]
        if isinstance(value, str):
            return self._grown(value, done), done
        return (_json_text(value) if done else None), done

    def _grown(self, value: str, done: bool) -> str | None:
        if not done and value and "\ud800" <= value[-1] <= "\udbff":
            value = value[:-1]  # half a surrogate pair: the next chunk completes the character
        if not value.startswith(self.sent):  # never expected from a partial parser; keep the stream consistent
            return None
        piece, self.sent = value[len(self.sent) :], value
        return piece or None


def _closed(text: str) -> bool:
    """Whether the JSON object at the start of ``text`` is complete (text after it, a fence say, is ignored)."""
    try:
        _DECODER.raw_decode(text)
    except ValueError:
        return False
    return True


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _text(chunk: Any) -> str | None:
    try:
        content = chunk.choices[0].delta.content
    except (AttributeError, IndexError, KeyError, TypeError):  # a usage-only chunk has no choices
        return None
    return content if isinstance(content, str) else None


def _finished(chunk: Any) -> bool:
    try:
        return chunk.choices[0].finish_reason is not None
    except (AttributeError, IndexError, KeyError, TypeError):
        return False


def adopt(listener: DSPyStreamListener) -> DSPyStreamListener:
    """Make a plain ``dspy.streaming.StreamListener`` promptkit's, in place (the caller's object keeps
    working and keeps its state); any other listener (promptkit's, a user's subclass) is left as it is.

    The TemplateAdapter does this for the listeners of a streamed call, so ``dspy.streamify`` with
    DSPy's own listeners works unchanged. The class swap is sound: this subclass adds no slots, only
    its reply state, which is set here.
    """
    if type(listener) is DSPyStreamListener:
        listener.__class__ = StreamListener
        cast(StreamListener, listener)._init_reply_state()
    return listener


def streamify(
    program: Any,
    status_message_provider: Any = None,
    stream_listeners: Sequence[DSPyStreamListener] | None = None,
    **kwargs: Any,
) -> Callable[..., Any]:
    """``dspy.streamify`` with DSPy's listeners made TemplateAdapter-aware.

    Plain ``dspy.streaming.StreamListener`` instances are made promptkit's (:func:`adopt`); any other
    listener is passed as it is. Other arguments go to ``dspy.streamify``. (Plain ``dspy.streamify``
    works too: the TemplateAdapter adopts the listeners of a streamed call when the call starts.)
    """
    listeners = [adopt(listener) for listener in stream_listeners or ()]
    return dspy.streamify(
        program, status_message_provider=status_message_provider, stream_listeners=listeners, **kwargs
    )


def stream_field(
    program: Any, field: str, on_chunk: Callable[[StreamResponse], None], /, **inputs: Any
) -> dspy.Prediction:
    """Run ``program(**inputs)``, handing each chunk of the output ``field`` to ``on_chunk`` as it is generated.

    Every predictor of the program with an output named ``field`` is listened to, through all of its
    calls (a technique may draft and revise, or sample several answers). Returns the prediction; a
    program with no such predictor simply runs without chunks.
    """
    listeners = [
        StreamListener(field, predict=predictor, predict_name=name, allow_reuse=True)
        for name, predictor in program.named_predictors()
        if field in predictor.signature.output_fields
    ]
    run = streamify(program, stream_listeners=listeners, async_streaming=False)
    prediction = None
    for value in run(**inputs):
        if isinstance(value, StreamResponse):
            on_chunk(value)
        elif isinstance(value, dspy.Prediction):
            prediction = value
    assert prediction is not None, "dspy.streamify always ends with the prediction"
    return prediction
