"""JSON in model replies: code fences, prose around it, several objects, truncation.

One reading for every caller (the adapter, chain steps, metrics, techniques):

1. the whole reply as JSON (a grammar-constrained reply is exactly one object, and its string
   values may hold fenced code, which must stay inside them);
2. otherwise every complete top-level JSON value in the text, fenced or not; the *last* one that
   the caller accepts wins, because a reply that quotes a retrieved passage holding
   ``{"answer": "HACKED"}`` before answering ends with the object that answers;
3. otherwise, with ``repair``, ``json_repair`` on the text from the first ``{`` or ``[`` (a reply
   cut off at ``max_tokens``); a reply that starts as JSON keeps its fences as content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_MAX_STARTS = 2000  # a reply with thousands of stray braces is not worth scanning past this


class JSONNotFound(ValueError):
    """No acceptable JSON value in the reply; ``found`` holds what was found (or None)."""

    def __init__(self, reason: str, found: Any = None) -> None:
        super().__init__(reason)
        self.found = found


def strip_fences(text: str) -> str:
    """The content of the first Markdown code fence in ``text``, else ``text`` stripped.

    A fence that is never closed (a reply cut off inside it) runs to the end of the text.
    """
    match = _FENCE.search(text)
    return match.group(1).strip() if match else text.strip()


def json_values(text: str) -> list[Any]:
    """Every complete top-level JSON object or array in ``text``, in order (nested ones are inside)."""
    decoder = json.JSONDecoder()
    values, position, attempts = [], 0, 0
    while attempts < _MAX_STARTS:
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        attempts += 1
        try:
            value, stop = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        values.append(value)
        position = stop
    return values


def extract_json(text: str, *, accept: Callable[[Any], bool] | None = None, repair: bool = True) -> tuple[Any, bool]:
    """``(value, repaired?)``: the JSON value a reply carries (see the module docstring).

    ``accept`` says which values count (say, objects holding the output fields); without it any
    object or array does. When nothing is accepted, :class:`JSONNotFound` carries the last value
    found, so the caller can say what was wrong with it.
    """
    ok = accept or _is_container
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        pass
    else:
        if ok(whole):
            return whole, False
        raise JSONNotFound(_describe(whole), whole)
    candidates = json_values(stripped)
    for value in reversed(candidates):
        if ok(value):
            return value, False
    last = candidates[-1] if candidates else None
    if not repair:
        reason = _describe(last) if candidates else "the reply is not valid JSON: no complete object or array"
        raise JSONNotFound(reason, last)
    # A reply that starts as JSON was cut off (fences in it are content); otherwise a fence may wrap it.
    opened = stripped if stripped.startswith(("{", "[")) else strip_fences(stripped)
    try:
        return _repaired(opened, ok), True
    except JSONNotFound:
        if candidates:
            raise JSONNotFound(_describe(last), last) from None
        raise


def _repaired(text: str, ok: Callable[[Any], bool]) -> Any:
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise JSONNotFound("the reply contains no JSON object or array")
    import json_repair  # DSPy's own dependency; loaded only for a broken reply

    value = json_repair.loads(text[min(starts) :])
    if not ok(value):  # json_repair turns any prose into *something*: only what the caller accepts counts
        raise JSONNotFound("the reply contains no JSON object or array that could be repaired", value)
    return value


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _describe(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return f"the reply's JSON is {kinds.get(type(value), 'a number')} that does not fit"


def has_keys(names: Collection[str]) -> Callable[[Any], bool]:
    """An ``accept`` for objects that hold every key in ``names``."""
    return lambda value: isinstance(value, dict) and all(name in value for name in names)


def parse_json_fields(reply: str, names: Sequence[str], optional: Collection[str] = ()) -> dict[str, Any]:
    """Read the fields ``names`` from a JSON object reply; fields in ``optional`` may be absent.
    Extra keys are ignored."""
    required = [name for name in names if name not in optional]
    try:
        value, _ = extract_json(reply, accept=has_keys(required))
    except JSONNotFound as exc:
        found = exc.found
        if isinstance(found, dict):
            missing = [name for name in required if name not in found]
            raise ValueError(f"the JSON object lacks key(s) {missing} (keys present: {sorted(found)})") from None
        if found is not None:
            raise ValueError(f"expected a JSON object with keys {list(names)}, got {type(found).__name__}") from None
        raise ValueError(f"expected a JSON object with keys {list(names)}: {exc}") from None
    return {name: value[name] for name in names if name in value}
