"""``AsyncLlamaCppEngine``: the async face of :class:`~promptkit.lm.local_engine.LlamaCppEngine`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from dspy.lm15 import Request, Response

from promptkit.lm.local_engine import LlamaCppEngine


class AsyncLlamaCppEngine:
    """The async counterpart DSPy needs for ``acall`` / ``aforward``: runs the sync engine in a worker thread.

    llama.cpp generation is blocking C code; a thread keeps the event loop free while the shared
    model's lease still serializes calls.
    """

    supports_response_schema = LlamaCppEngine.supports_response_schema
    supports_function_calling = False
    supports_reasoning = False
    supported_params = LlamaCppEngine.supported_params

    def __init__(self, engine: LlamaCppEngine) -> None:
        self.engine = engine

    async def complete(self, request: Request) -> Response:
        return await asyncio.to_thread(self.engine.complete, request)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        """The sync stream, each step in a worker thread; closing it stops generation and frees the context."""
        loop = asyncio.get_running_loop()
        events = self.engine.stream(request)
        step: asyncio.Future[Any] | None = None
        try:
            while True:
                step = loop.run_in_executor(None, next, events, None)
                # Shielded: a cancelled consumer must not abandon a step still running in its thread.
                event = await asyncio.shield(step)
                if event is None:
                    break
                yield event
        finally:
            if step is not None and not step.done():
                await asyncio.wait([step])  # a generator cannot be closed while it runs
            await loop.run_in_executor(None, events.close)

    def close(self) -> None:
        self.engine.close()

    def dump_state(self) -> dict[str, Any]:
        return self.engine.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> AsyncLlamaCppEngine:
        return cls(LlamaCppEngine.load_state(state))
