"""The ``{% message "role" %}...{% endmessage %}`` tag and the loop budget, as one Jinja extension.

Messages are structural, never text markers: the tag compiles to a call of
``_message_begin(role)`` before its body and ``_message_end()`` after it. Both calls go
through ``environment.extensions[...]`` (an ``ExtensionAttribute`` node), which template
source cannot name, and both switch ``RenderState.current`` — the list the collector appends
chunks to. Data is only ever yielded as strings, so no value can start, end or forge a message.

Jinja renders macros, call blocks, ``{% set %}`` / filter blocks, ``super()`` and
``self.block()`` into a buffer first; a message there would switch roles before its text
arrives. ``analysis.py`` rejects the static cases at load; ``_message_end`` catches the rest at
render time because no chunk reached the collector between begin and end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from promptkit.errors import TemplateError
from promptkit.prompts.state import CURRENT_RENDER, RenderState

ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})
BEGIN = "_message_begin"
END = "_message_end"
BUDGET_ITER = "_budget_iter"
# Loop items between two deadline checks: a clock read every item would cost more than the loop body.
_CHECK_EVERY = 256


def _state() -> RenderState:
    state = CURRENT_RENDER.get()
    if state is None:
        raise TemplateError(
            "a template with message blocks was rendered outside promptkit",
            hint="render it with promptkit's Template.render_messages() / render_text()",
        )
    return state


def _checked(iterable: Iterable[Any], state: RenderState) -> Iterator[Any]:
    for count, item in enumerate(iterable, start=1):
        if count % _CHECK_EVERY == 0:
            state.check_deadline()
        yield item


class PromptExtension(Extension):
    """Adds ``{% message %}`` and the runtime hooks the environment's AST rewrite calls."""

    tags = {"message"}  # noqa: RUF012 - Jinja's declared class attribute

    def parse(self, parser: Parser) -> nodes.Node | list[nodes.Node]:
        lineno = next(parser.stream).lineno
        role_node = parser.parse_expression()
        if not isinstance(role_node, nodes.Const) or role_node.value not in ROLES:
            parser.fail(
                '{% message %} takes a literal role: "system", "user" or "assistant"',
                lineno,
            )
        role = role_node.value
        body = parser.parse_statements(("name:endmessage",), drop_needle=True)
        begin = nodes.Output([self.call_method(BEGIN, [nodes.Const(role)], lineno=lineno)], lineno=lineno)
        end = nodes.Output([self.call_method(END, lineno=lineno)], lineno=lineno)
        # A Scope marks the message for the static analysis and keeps {% set %} inside it local.
        return nodes.Scope([begin, *body, end], lineno=lineno)

    def _message_begin(self, role: str) -> str:
        state = _state()
        if state.role is not None:
            raise TemplateError(
                f"message {role!r} starts inside the open {state.role!r} message",
                hint="close each {% message %} with {% endmessage %} before starting the next",
            )
        state.role = role
        state.begin_consumed = state.consumed
        state.current = []
        state.messages.append((role, state.current))
        return ""

    def _message_end(self) -> str:
        state = _state()
        if state.consumed == state.begin_consumed:
            # The begin's own (empty) chunk never reached the collector: Jinja is buffering.
            raise TemplateError(
                f"the {state.role!r} message was rendered inside a macro, call block, set/filter block, "
                "super() or self.<block>() call, so its text cannot be assigned to it",
                hint="put {% message %} blocks at the top level (or directly in a {% block %}) of a template",
            )
        state.role = None
        state.current = state.outside
        return ""

    def _budget_iter(self, iterable: Any) -> Any:
        state = CURRENT_RENDER.get()
        if state is None:
            return iterable
        state.check_deadline()
        return _checked(iterable, state)


def is_hook_call(node: nodes.Node, hook: str) -> bool:
    """True when ``node`` is the extension's call of ``hook`` (e.g. ``_message_begin``)."""
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.ExtensionAttribute)
        and node.node.identifier == PromptExtension.identifier
        and node.node.name == hook
    )


def message_role(node: nodes.Node) -> str | None:
    """The role when ``node`` is a message block produced by :class:`PromptExtension`, else None."""
    if not isinstance(node, nodes.Scope) or not node.body:
        return None
    first = node.body[0]
    if isinstance(first, nodes.Output) and first.nodes and is_hook_call(first.nodes[0], BEGIN):
        call = first.nodes[0]
        assert isinstance(call, nodes.Call)
        role = call.args[0]
        return role.value if isinstance(role, nodes.Const) else None
    return None
