"""One predictor's prompt as the source of a standalone template: what ``promptkit export`` writes.

The adapter's own template (``templates/dspy/chat.j2``, or the user's) is rendered for the
predictor four times — markers and JSON replies, with and without length budgets — with marker
strings where each input goes. Whatever is the same in every rendering (the instructions, the
field docs, the demos) becomes literal template text; where the input markers stand becomes
``{{ question }}``; where the renderings differ becomes ``{% if output_mode == "json" %}`` or
``{% if "answer" in budgets %}``. So the layout is never written down twice: the export is
derived from the template a call renders with, and the result is checked by rendering it back
(byte-identical to all four renderings, or :class:`~promptkit.errors.InputError`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from promptkit.errors import InputError

# Marker strings no formatting step touches (markers, section tags and Jinja syntax all left alone).
_INPUT = "\u27eainput:{}\u27eb"
_BUDGET = "\u27eabudget:{}\u27eb"
_TURN = "\u27eaturn:{}\u27eb"  # a field of the one conversation turn rendered where a dspy.History's turns go
_MARK = re.compile("\u27ea(input|budget|turn):([A-Za-z_][A-Za-z0-9_]*)\u27eb")
_TURN_LOOP = ("{% for turn in history %}", "{% endfor %}")
_BRACE = re.compile(r"\{(?=[{%#])")
_QUOTED_BRACE = '{{ "{" }}'
JSON_MODE = 'output_mode == "json"'
# Names an exported template takes besides the inputs, and ``task``, by which the adapter tells its own
# templates from exported ones: no input may be called any of these.
RESERVED = frozenset({"output_mode", "budgets", "task"})


def input_marker(name: str) -> str:
    return _INPUT.format(name)


def turn_marker(name: str) -> str:
    return _TURN.format(name)


def escape_text(text: str, *, tag_follows: bool = False) -> str:
    """Literal text as Jinja source that renders to exactly ``text``: each ``{`` that could open a tag is
    quoted, a last one too when a tag follows the text."""
    text = _BRACE.sub(_QUOTED_BRACE, text)
    if tag_follows and text.endswith("{"):
        text = text[:-1] + _QUOTED_BRACE
    return text


def _source_line(line: str, *, tag_follows: bool = False) -> str:
    """Rendered text as template source: literal text escaped, each marker as its expression
    (``{{ question }}``, ``{{ turn.question }}``, ``{{ budgets.answer }}``)."""
    parts, at = [], 0
    for match in _MARK.finditer(line):
        parts.append(escape_text(line[at : match.start()], tag_follows=True))
        kind, name = match.groups()
        parts.append("{{ " + {"input": "", "turn": "turn.", "budget": "budgets."}[kind] + name + " }}")
        at = match.end()
    parts.append(escape_text(line[at:], tag_follows=tag_follows))
    return "".join(parts)


def _budget_fields(text: str) -> list[str]:
    return [name for kind, name in _MARK.findall(text) if kind == "budget"]


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _budget_line(plain: str, budgeted: str) -> str | None:
    """``budgeted`` is ``plain`` with one insertion naming one field's budget: the line as source with that
    insertion an inline conditional; else None."""
    prefix = _common_prefix(plain, budgeted)
    rest_plain, rest_budgeted = plain[len(prefix) :], budgeted[len(prefix) :]
    suffix = _common_prefix(rest_plain[::-1], rest_budgeted[::-1])[::-1]
    if rest_plain[: len(rest_plain) - len(suffix)]:
        return None
    inserted = rest_budgeted[: len(rest_budgeted) - len(suffix)]
    names = _budget_fields(inserted)
    pieces = (prefix, inserted, suffix)
    if len(set(names)) != 1 or sum(len(_MARK.findall(p)) for p in pieces) != len(_MARK.findall(budgeted)):
        return None  # not one field's budget, or the split cuts through a marker
    # `+%}` keeps the newline after the tag (the environment trims it after every block tag).
    return (
        f'{_source_line(prefix, tag_follows=True)}{{% if "{names[0]}" in budgets %}}'
        f"{_source_line(inserted, tag_follows=True)}{{% endif +%}}{_source_line(suffix)}"
    )


def _conditional(condition: str, when: Sequence[str], otherwise: Sequence[str]) -> list[str]:
    if not when:
        return [f"{{% if not ({condition}) %}}", *otherwise, "{% endif %}"]
    if not otherwise:
        return [f"{{% if {condition} %}}", *when, "{% endif %}"]
    return [f"{{% if {condition} %}}", *when, "{% else %}", *otherwise, "{% endif %}"]


def _opcodes(a: Sequence[str], b: Sequence[str]) -> Iterator[tuple[str, int, int, int, int]]:
    yield from difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def _merge_budgets(plain: list[str], budgeted: list[str]) -> list[str]:
    """Rendered lines without and with budgets -> source lines."""
    merged: list[str] = []
    for tag, i1, i2, j1, j2 in _opcodes(plain, budgeted):
        if tag == "equal":
            merged.extend(_source_line(line) for line in plain[i1:i2])
            continue
        if i2 - i1 == j2 - j1:
            inline = [_budget_line(a, b) for a, b in zip(plain[i1:i2], budgeted[j1:j2], strict=True)]
            if all(line is not None for line in inline):
                merged.extend(line for line in inline if line is not None)
                continue
        names = sorted({name for line in budgeted[j1:j2] for name in _budget_fields(line)})
        condition = " and ".join(f'"{name}" in budgets' for name in names) or "budgets"
        merged.extend(
            _conditional(
                condition,
                [_source_line(line) for line in budgeted[j1:j2]],
                [_source_line(line) for line in plain[i1:i2]],
            )
        )
    return merged


def _merge_modes(markers: list[str], json: list[str]) -> list[str]:
    merged: list[str] = []
    for tag, i1, i2, j1, j2 in _opcodes(markers, json):
        if tag == "equal":
            merged.extend(markers[i1:i2])
        else:
            merged.extend(_conditional(JSON_MODE, json[j1:j2], markers[i1:i2]))
    return merged


Variants = Mapping[tuple[str, bool], list[dict[str, Any]]]


def template_body(variants: Variants) -> str:
    """The message blocks of the template that renders each of ``variants`` ((mode, budgets) -> messages)."""
    shapes = {tuple(m["role"] for m in messages) for messages in variants.values()}
    if len(shapes) != 1:
        raise InputError(
            "the adapter template sends a different sequence of messages per reply mode or budget",
            hint="export with the bundled dspy/chat.j2 template, or make the roles the same in each mode",
        )
    for messages in variants.values():
        for message in messages:
            if not isinstance(message["content"], str):
                raise InputError(
                    "a demo or input holds an image, file or audio part, which a template file cannot hold",
                    hint="export a program whose demos are text",
                )
    roles = next(iter(shapes))
    turn = _turn_index(variants["markers", False])
    blocks = []
    for index, role in enumerate(roles):
        if turn is not None and index == turn + 1:
            # The turn's reply is the adapter's, in the call's reply shape: the loop shows it as it is.
            blocks.append('{% message "assistant" %}\n{{ turn.reply }}\n{% endmessage %}\n' + _TURN_LOOP[1])
            continue
        sources = {key: messages[index]["content"].split("\n") for key, messages in variants.items()}
        markers = _merge_budgets(sources["markers", False], sources["markers", True])
        json = _merge_budgets(sources["json", False], sources["json", True])
        lines = _merge_modes(markers, json)
        block = f'{{% message "{role}" %}}\n' + "\n".join(lines) + "\n{% endmessage %}"
        blocks.append(_TURN_LOOP[0] + "\n" + block if index == turn else block)
    return "\n".join(blocks) + "\n"


def _turn_index(messages: list[dict[str, Any]]) -> int | None:
    """The index of the user message of the conversation turn (its reply follows it), if there is one."""
    for index, message in enumerate(messages):
        if _TURN.format("")[:-1] in message["content"] and message["role"] == "user":
            if index + 1 >= len(messages) or messages[index + 1]["role"] != "assistant":
                raise InputError(
                    "the adapter template renders a conversation turn without its reply",
                    hint="export with the bundled dspy/chat.j2 template",
                )
            return index
    return None


def budget_markers(names: Sequence[str]) -> dict[str, Any]:
    return {name: _BUDGET.format(name) for name in names}
