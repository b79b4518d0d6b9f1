"""Per-render state shared by the message extension, the loop budget and the sandbox call hook.

One :class:`RenderState` exists per render and is reachable through a ``ContextVar`` (so
concurrent renders in threads or tasks never see each other's state). The collector in
``rendering.py`` appends every chunk Jinja yields to ``state.current``: the chunk list of the
open message, or ``state.outside`` when no message block is open.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from promptkit.errors import TemplateBudgetError


class RenderState:
    """Where output goes, how much there is, and when the render must stop."""

    __slots__ = (
        "begin_consumed",
        "consumed",
        "current",
        "deadline",
        "max_bytes",
        "messages",
        "outside",
        "role",
        "size",
        "template",
        "timeout",
    )

    def __init__(self, template: str, *, max_bytes: int, timeout: float) -> None:
        self.template = template
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.size = 0
        # Chunks the collector has received; lets the message extension detect buffered rendering.
        self.consumed = 0
        self.begin_consumed = -1
        self.role: str | None = None
        self.messages: list[tuple[str, list[str]]] = []
        self.outside: list[str] = []
        self.current: list[str] = self.outside

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateBudgetError(
                f"rendering took longer than {self.timeout:g} s",
                hint="bound the loops in the template, or raise the limit (with_limits(timeout=...) / render_timeout)",
            )

    def over_size(self) -> TemplateBudgetError:
        return TemplateBudgetError(
            f"rendered output is larger than {self.max_bytes} bytes",
            hint="shorten the values or loops, or raise the limit (with_limits(max_bytes=...) / render_max_bytes)",
        )


CURRENT_RENDER: ContextVar[RenderState | None] = ContextVar("promptkit_render_state", default=None)
