"""Pulling named fields out of model replies, without letting a value forge a field.

Two reply shapes: ``[[ ## field ## ]]`` marker blocks and JSON objects. Both parsers take the
expected field names in order and raise ``ValueError`` with a reason a person can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_MARKER = re.compile(r"^[ \t]*\[\[ ## (\w+) ## \]\][ \t]*", re.MULTILINE)
_FORGED_MARKER = re.compile(r"\[\[(\s*)##")
COMPLETED = "completed"


def escape_markers(text: str) -> str:
    """Make ``[[ ## x ## ]]`` in a value inert, so input data cannot open a field of its own."""
    return _FORGED_MARKER.sub(r"[\\[\1##", text)


def parse_marker_fields(reply: str, names: Sequence[str]) -> dict[str, str]:
    """Split ``reply`` into the fields ``names`` (in that order).

    Each marker must start a line. The fields are located from the end: the last field's
    marker is its last occurrence, each earlier field's marker is its last occurrence before the
    next field's marker. So a value may quote any marker (a reasoning that mentions
    ``[[ ## answer ## ]]``) without cutting itself short, as long as the real marker follows it.
    Text after ``[[ ## completed ## ]]`` is ignored.
    """
    positions: dict[str, list[tuple[int, int]]] = {}
    for match in _MARKER.finditer(reply):
        positions.setdefault(match.group(1), []).append((match.start(), match.end()))
    end = len(reply)
    completed = positions.get(COMPLETED)
    if completed:
        end = completed[-1][0]
    found: dict[str, str] = {}
    limit = end
    for name in reversed(list(names)):
        candidates = [span for span in positions.get(name, []) if span[1] <= limit]
        if not candidates:
            missing = [n for n in names if n not in found and n != name]
            present = sorted(set(positions) - {COMPLETED})
            raise ValueError(
                f"no [[ ## {name} ## ]] marker"
                + (f" (markers present: {present})" if present else " (the reply has no field markers)")
                + (f"; also check {missing}" if missing else "")
            )
        start, content_start = candidates[-1]
        found[name] = reply[content_start:limit].strip()
        limit = start
    return {name: found[name] for name in names}


def _first_json_object(text: str) -> Any:
    """The first JSON value in ``text``, tolerating code fences and prose around it."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    # A fence is only a wrapper when the reply does not itself start as JSON: a grammar-constrained
    # reply is an object whose string values may hold fenced code, which must stay inside them.
    if not stripped.startswith("{"):
        fenced = re.search(r"```(?:json)?\s*(.*?)```", stripped, re.DOTALL)
        if fenced:
            stripped = fenced.group(1).strip()
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                pass
    start = stripped.find("{")
    if start >= 0:
        decoder = json.JSONDecoder()
        try:
            value, _ = decoder.raw_decode(stripped[start:])
            return value
        except json.JSONDecodeError:
            pass
    import json_repair  # DSPy's own dependency: repairs truncated or sloppy JSON

    return json_repair.loads(stripped)


def parse_json_fields(reply: str, names: Sequence[str]) -> dict[str, Any]:
    """Read the fields ``names`` from a JSON object reply. Extra keys are ignored."""
    value = _first_json_object(reply)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object with keys {list(names)}, got {type(value).__name__}")
    missing = [name for name in names if name not in value]
    if missing:
        raise ValueError(f"the JSON object lacks key(s) {missing} (keys present: {sorted(value)})")
    return {name: value[name] for name in names}
