"""Rendering a compiled template into chat messages, within its size and time budget.

The collector pulls chunks from ``template.generate()`` and appends each to
``state.current`` — the open message's chunk list, switched by the ``{% message %}`` hooks
(see extension.py). It also counts output bytes and checks the deadline per chunk; the loop
wrapper and the sandbox call hook cover renders that spin without output.

Every failure leaves as a typed promptkit error naming the template and, where Jinja's
rewritten traceback has it, the template line.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateNotFound, UndefinedError
from jinja2.sandbox import SecurityError

from promptkit.errors import (
    PromptkitError,
    TemplateBudgetError,
    TemplateError,
    TemplateInputError,
    TemplateSecurityError,
)
from promptkit.prompts.state import CURRENT_RENDER, RenderState

Message = dict[str, str]


def _location(tb: TracebackType | None, names_by_path: Mapping[str, str], default: str) -> tuple[str, int | None]:
    """The innermost template frame of a Jinja-rewritten traceback: (template name, line)."""
    name, line = default, None
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            filename = tb.tb_frame.f_code.co_filename
            name = names_by_path.get(filename, default)
            line = tb.tb_lineno
        tb = tb.tb_next
    return name, line


def _translate(exc: BaseException, names_by_path: Mapping[str, str], template: str) -> PromptkitError:
    name, line = _location(exc.__traceback__, names_by_path, template)
    if isinstance(exc, TemplateError):
        if exc.template is not None:
            return exc
        if isinstance(exc, TemplateInputError):
            return TemplateInputError(
                exc.message, template=name, line=line, variable=exc.variable, expected=exc.expected, hint=exc.hint
            )
        return type(exc)(exc.message, template=name, line=line, hint=exc.hint)
    if isinstance(exc, PromptkitError):
        return exc
    if isinstance(exc, SecurityError):
        return TemplateSecurityError(str(exc), template=name, line=line)
    if isinstance(exc, RecursionError):
        return TemplateBudgetError(
            "recursion too deep (a macro or recursive loop does not terminate)", template=name, line=line
        )
    if isinstance(exc, UndefinedError):
        return TemplateError(
            f"undefined value: {exc.message}",
            template=name,
            line=line,
            hint="check the attribute / key name, or guard it with {% if x is defined %}",
        )
    if isinstance(exc, TemplateNotFound):
        return TemplateError(f"included template {exc.name!r} not found", template=name, line=line)
    return TemplateError(f"rendering failed: {type(exc).__name__}: {exc}", template=name, line=line)


def _strip_blank_lines(text: str) -> str:
    """Drop leading and trailing blank lines (keeping the first line's indentation) and trailing spaces."""
    text = text.rstrip()
    start = 0
    while True:
        newline = text.find("\n", start)
        if newline == -1 or text[start:newline].strip():
            break
        start = newline + 1
    return text[start:]


def _collect(template: JinjaTemplate, values: dict[str, Any], state: RenderState) -> None:
    # Locals, not attribute lookups: this loop runs once per chunk Jinja yields.
    max_bytes, deadline, clock, size = state.max_bytes, state.deadline, time.monotonic, 0
    for chunk in template.generate(values):
        state.consumed += 1
        if chunk:
            size += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
            if size > max_bytes:
                raise state.over_size()
            if clock() > deadline:
                state.check_deadline()
            state.current.append(chunk)
    state.size = size


def render_messages(
    template: JinjaTemplate,
    values: dict[str, Any],
    *,
    name: str,
    max_bytes: int,
    timeout: float,
    names_by_path: Mapping[str, str],
) -> list[Message]:
    """Render validated ``values`` into ``[{"role", "content"}, ...]``; empty messages are dropped."""
    state = RenderState(name, max_bytes=max_bytes, timeout=timeout)
    token = CURRENT_RENDER.set(state)
    try:
        _collect(template, values, state)
    except Exception as exc:
        error = _translate(exc, names_by_path, name)
        if error is exc:
            raise
        raise error from exc
    finally:
        CURRENT_RENDER.reset(token)
    outside = "".join(state.outside)
    if not state.messages:
        content = _strip_blank_lines(outside)
        return [{"role": "user", "content": content}] if content else []
    if outside.strip():
        raise TemplateError(
            f"text {outside.strip()[:60]!r} was rendered outside any {{% message %}} block",
            template=name,
            hint="move it into a message block (a template with message blocks may have nothing outside them)",
        )
    messages = []
    for role, chunks in state.messages:
        content = _strip_blank_lines("".join(chunks))
        if content:
            messages.append({"role": role, "content": content})
    return messages


def messages_to_text(messages: list[Message]) -> str:
    """The message contents joined by a blank line."""
    return "\n\n".join(message["content"] for message in messages)
