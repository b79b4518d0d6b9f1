"""``[[ ## field ## ]]`` marker replies: split into fields without letting a value forge a field.

A marker must start a line. Input values are passed through :func:`escape_markers`, so data
(a question, a retrieved passage) can never open a field of its own.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

_MARKER = re.compile(r"^[ \t]*\[\[ ## (\w+) ## \]\][ \t]*", re.MULTILINE)
_FORGED_MARKER = re.compile(r"\[\[(\s*)##")
COMPLETED = "completed"

Span = tuple[int, int, str]  # (marker start, content start, field name)


def escape_markers(text: str) -> str:
    """Make ``[[ ## x ## ]]`` in a value inert, so input data cannot open a field of its own."""
    return _FORGED_MARKER.sub(r"[\\[\1##", text)


def has_markers(text: str) -> bool:
    return _MARKER.search(text) is not None


def parse_marker_fields(reply: str, names: Sequence[str], optional: Collection[str] = ()) -> dict[str, str]:
    """Split ``reply`` into the fields ``names``; fields in ``optional`` may be absent.

    The fields are first located in the expected order *from the end*: the last field's marker is
    its last occurrence, each earlier field's marker its last occurrence before the next one. So a
    value may quote any marker (a reasoning that mentions ``[[ ## answer ## ]]``) without cutting
    itself short, as long as the real marker follows it. A reply whose fields come in another order
    is then read segment by segment, the last segment of each name winning. Either way a marker of
    a name that is not an output field (``[[ ## completion ## ]]``, an echoed input) ends the value
    before it and its own text is dropped, as DSPy's ChatAdapter drops it; text after
    ``[[ ## completed ## ]]`` is ignored.
    """
    markers = [(m.start(), m.end(), m.group(1)) for m in _MARKER.finditer(reply)]
    completed = [start for start, _, name in markers if name == COMPLETED]
    end = completed[-1] if completed else len(reply)
    markers = [marker for marker in markers if marker[0] < end]
    wanted = set(names)
    try:
        return _in_order(reply, markers, names, end, wanted, set(optional))
    except ValueError as in_order_error:
        found = _any_order(reply, markers, end, wanted)
        if all(name in found or name in optional for name in names):
            return {name: found[name] for name in names if name in found}
        raise in_order_error from None


def _in_order(
    reply: str, markers: list[Span], names: Sequence[str], end: int, wanted: set[str], optional: set[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    limit = end
    for name in reversed(list(names)):
        candidates = [marker for marker in markers if marker[2] == name and marker[1] <= limit]
        if not candidates:
            if name in optional:
                continue
            raise ValueError(_missing(name, names, found, markers))
        start, content_start, _ = candidates[-1]
        found[name] = reply[content_start : _stop(markers, content_start, limit, wanted)].strip()
        limit = start
    return {name: found[name] for name in names if name in found}


def _stop(markers: list[Span], content_start: int, limit: int, wanted: set[str]) -> int:
    """Where a value that starts at ``content_start`` ends: ``limit`` or an unknown marker before it."""
    for start, _, name in markers:
        if content_start <= start < limit and name not in wanted:
            return start
    return limit


def _any_order(reply: str, markers: list[Span], end: int, wanted: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, (_, content_start, name) in enumerate(markers):
        if name in wanted:
            stop = markers[index + 1][0] if index + 1 < len(markers) else end
            found[name] = reply[content_start:stop].strip()
    return found


def _missing(name: str, names: Sequence[str], found: dict[str, str], markers: list[Span]) -> str:
    missing = [n for n in names if n not in found and n != name]
    present = sorted({marker[2] for marker in markers})
    return (
        f"no [[ ## {name} ## ]] marker"
        + (f" (markers present: {present})" if present else " (the reply has no field markers)")
        + (f"; also check {missing}" if missing else "")
    )
