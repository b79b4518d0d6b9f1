"""FakeLM: a deterministic, offline ``dspy.LM`` for tests and demos.

It is a real DSPy 3.4 LM (``dspy.LM`` with a custom engine), so DSPy's cache, retries, usage tracking,
history and callbacks all run as they do against a server. Answer modes::

    FakeLM([{"answer": "42"}, "raw text"])          # (a) in order
    FakeLM({"France": {"answer": "Paris"}})          # (b) prompt substring -> answer
    FakeLM(lambda call: {"answer": call.inputs["question"].upper()})   # (c) a function of the FakeCall
    FakeLM.echo()                                     # (d) "[fake] <first input>" in every output field

Dict answers are rendered the way the active adapter (Chat, JSON, XML, a template adapter) expects, so
its parser really runs; strings are returned verbatim. Faults: ``FakeLM(answers, faults=["rate_limit",
None, "timeout", "server_error", "malformed"])`` gives the i-th call the i-th fault. Under
``dspy.streamify`` a reply arrives in token-like pieces (a word, or a run of punctuation), so stream
listeners meet field markers split across chunks, as they do against a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from promptkit.lm.client import PromptkitLM
from promptkit.lm.fake_engine import FAULTS, Answer, AsyncFakeEngine, FakeCall, FakeEngine, FakeScript

__all__ = ["FAULTS", "FakeCall", "FakeLM"]


class FakeLM(PromptkitLM):
    """A scripted LM. ``calls`` records every call; ``inject(fault)`` queues a fault for the next call.

    ``cache`` is off by default so a scripted list is never short-circuited; with ``cache=True`` DSPy's
    cache serves repeated identical calls (scoped to this FakeLM and its copies). Running out of
    scripted answers raises ``FakeLMError``, never a placeholder answer.
    """

    def __init__(
        self,
        answers: Iterable[Answer] | Mapping[str, Answer] | Callable[[FakeCall], Answer] | None = None,
        *,
        mapping: Mapping[str, Answer] | None = None,
        fn: Callable[[FakeCall], Answer] | None = None,
        faults: Iterable[str | None] = (),
        cache: bool = False,
        model: str = "fake/fake-lm",
        num_retries: int = 2,
        retry_after: float = 0.0,
        _echo: bool = False,
        **kwargs: Any,
    ) -> None:
        """``retry_after`` is the wait (s) DSPy honours before retrying an injected transient fault."""
        self._script = FakeScript(answers, mapping=mapping, fn=fn, echo=_echo, faults=faults, retry_after=retry_after)
        super().__init__(
            model,
            engine=FakeEngine(self._script),
            async_engine=AsyncFakeEngine(self._script),
            cache=cache,
            num_retries=num_retries,
            **kwargs,
        )

    @classmethod
    def echo(cls, *, cache: bool = False, **kwargs: Any) -> FakeLM:
        """Fill every output field with ``[fake] <first 60 chars of the first input>`` (typed fields get a
        deterministic value of their type), so demos and ``--model fake`` work offline."""
        return cls(_echo=True, cache=cache, model=kwargs.pop("model", "fake/echo"), **kwargs)

    def _namespace_for(self, kwargs: dict[str, Any]) -> int | None:
        # A cache namespace per script: DSPy's disk cache persists across processes, and a FakeLM's
        # answers must never be served to another FakeLM (or to the next test run).
        return self._script.namespace

    # -- inspection ---------------------------------------------------------------------------------
    @property
    def calls(self) -> list[FakeCall]:
        """The live call log (appended under a lock; ``fake.calls.clear()`` starts a new log)."""
        return self._script.calls

    @property
    def mode(self) -> str:
        """``answers``, ``mapping``, ``fn`` or ``echo``."""
        return self._script.mode

    @property
    def remaining(self) -> int | None:
        """Scripted answers not yet used (list mode), else None."""
        if self._script.mode != "answers":
            return None
        with self._script.lock:
            return len(self._script.answers) - self._script.served

    def inject(self, fault: str, times: int = 1) -> None:
        """The next ``times`` calls get ``fault`` (one of ``FAULTS``), before any faults already queued."""
        self._script.inject(fault, times)

    def __repr__(self) -> str:
        return f"FakeLM(mode={self.mode!r}, calls={len(self._script.calls)})"
