"""Which templates (name and content version) a piece of work rendered its prompts through.

The evaluation runner opens a record around each row, and ``TemplateAdapter.format`` notes each
template it renders, so a result row says which template versions produced its prompts. A context
variable keeps rows apart: each row runs in its own thread, and techniques that fan out copy the
context, so their calls land in the same record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_RENDERED: ContextVar[set[str] | None] = ContextVar("promptkit_rendered_templates", default=None)


def note_template(template: Any) -> None:
    """Record ``template`` (``name@version``) in the open record, if any."""
    record = _RENDERED.get()
    if record is not None:
        record.add(f"{template.name}@{template.version}")


@contextmanager
def recording_templates() -> Iterator[set[str]]:
    """A record of the templates rendered inside the block (``{"dspy/chat@3f1c...", ...}``)."""
    record: set[str] = set()
    token = _RENDERED.set(record)
    try:
        yield record
    finally:
        _RENDERED.reset(token)
