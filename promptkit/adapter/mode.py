"""The reply shape of the adapter call in progress: ``markers`` or ``json``.

``format_assistant_message_content()`` is also called from outside ``format()`` (by FakeLM, to
answer the way this call expects), so the mode travels with the call rather than living on the
(shared, thread-safe) adapter object. ``acall`` awaits in the caller's context, so async calls
see their own mode too.
"""

from __future__ import annotations

import contextvars
from typing import Literal

OutputMode = Literal["markers", "json"]

CURRENT_MODE: contextvars.ContextVar[OutputMode] = contextvars.ContextVar("promptkit_output_mode", default="markers")


# Characters per output field for the call in progress (see promptkit.adapter.budgets); empty: none.
CURRENT_BUDGETS: contextvars.ContextVar[dict[str, int]] = contextvars.ContextVar("promptkit_budgets", default={})  # noqa: B039


def current_mode() -> OutputMode:
    return CURRENT_MODE.get()
